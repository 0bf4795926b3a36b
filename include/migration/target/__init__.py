"""The target side: profiles, SQL dialects, connections, throttling and the bulk writer."""
