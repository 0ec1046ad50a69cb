"""A check of one's own says why it failed in plain words: its message, or the assertion as
written, never pytest's rewrite of it nor an object's representation."""

from testinfra.backend.local import LocalBackend

from isoverify.user_checks import Answer, in_plain_words


class ShadowFile:
    mode = 0o644

    def __repr__(self):
        return "<file /etc/shadow>"


def failure(check) -> AssertionError:
    try:
        check()
    except AssertionError as exc:
        return exc
    raise AssertionError("the check was meant to fail")


def test_an_assertion_without_a_message_is_quoted_as_written():
    def check():
        assert not ShadowFile().mode & 0o004
    raised = failure(check)
    assert "where" in str(raised)  # pytest rewrote it: what a summary must not show
    assert in_plain_words(raised) == ("its assertion failed: `assert not ShadowFile().mode & 0o004` "
                                      f"(test_user_checks.py:{check.__code__.co_firstlineno + 1})")


def test_a_message_is_kept_and_the_rewrite_after_it_dropped():
    def check():
        shadow = ShadowFile()
        assert not shadow.mode & 0o004, f"expected no read bit for others, found mode {shadow.mode:o}"
    assert in_plain_words(failure(check)) == "expected no read bit for others, found mode 644"


def test_a_command_answer_is_shown_by_its_command_status_and_output():
    said = Answer(LocalBackend(), 3, b"echo hello; exit 3", b"hello\n", b"")
    assert repr(said) == str(said) == "`echo hello; exit 3` (exit status 3): hello"
    assert Answer(LocalBackend(), 0, b"true", b"", b"").rc == 0 and "object at" not in repr(said)
