"""The keyset paginator: moves the cursor and refuses loops, backwards cursors and early stops."""

import pytest

from include.migration.source.paginator import KeysetPaginator, PaginationError


def _paginator(cursor=None, max_pages=100):
    return KeysetPaginator("acme", "users", cursor=cursor, max_pages=max_pages)


def test_walks_pages_to_the_end():
    p = _paginator()
    assert p.advance([1, 2, 3], 3) == 3
    assert p.advance([4, 5], None) == 5
    assert (p.done, p.pages, p.rows, p.cursor) == (True, 2, 5, 5)


def test_empty_last_page_ends_and_keeps_cursor():
    p = _paginator(cursor=10)
    p.advance([11, 12], 12)
    assert p.advance([], None) == 12 and p.done


def test_repeated_cursor_fails_with_context():
    p = _paginator()
    p.advance([1, 2], 2)
    with pytest.raises(PaginationError, match=r"installation 'acme', data type 'users', cursor 2: key 2 repeats"):
        p.advance([2, 3], 3)


def test_backwards_cursor_and_unordered_rows_fail():
    p = _paginator(cursor=100)
    with pytest.raises(PaginationError, match="goes backwards"):
        p.advance([50], 50)
    p = _paginator()
    with pytest.raises(PaginationError, match=r"previous row \(row 2\)"):
        p.advance([1, 3, 2], 2)


def test_empty_page_with_cursor_fails():
    with pytest.raises(PaginationError, match="empty page came with a non-null afterId 7"):
        _paginator().advance([], 7)


def test_after_id_must_match_last_key():
    with pytest.raises(PaginationError, match="is not the key of the page's last row"):
        _paginator().advance([1, 2], 5)


def test_page_bound_fails_instead_of_looping():
    p = _paginator(max_pages=2)
    p.advance([1], 1)
    with pytest.raises(PaginationError, match="more than 2 pages"):
        p.advance([2], 2)


def test_no_page_after_the_end():
    p = _paginator()
    p.advance([1], None)
    with pytest.raises(PaginationError, match="after the end of data"):
        p.advance([2], None)


def test_string_keys_compare_as_strings():
    p = _paginator()
    p.advance(["a", "b"], "b")
    with pytest.raises(PaginationError):
        p.advance(["a"], "a")
