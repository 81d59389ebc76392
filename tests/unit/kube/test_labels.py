"""Label selector strings refused and read as apimachinery's labels.Parse does, with its messages (issue 10:
a 70-character label key was accepted)."""

from __future__ import annotations

import pytest

from kube import labels

_KEY_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
             "character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
_VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
               "must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345', regex "
               "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
_SUBDOMAIN_RULE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                   "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                   "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_NOT_INT = "for 'Gt', 'Lt' operators, the value must be an integer"
_OPERATORS = "in, notin, =, ==, !=, gt, lt"
_R = "unable to parse requirement: "


@pytest.mark.parametrize(("selector", "message"), [
    pytest.param("a" * 70 + "=b", f'{_R}<nil>: Invalid value: "{"a" * 70}": name part must be no more than 63 bytes',
                 id="key-name-over-63"),
    pytest.param(f"example.com/{'k' * 64}", f'{_R}<nil>: Invalid value: "example.com/{"k" * 64}": name part must '
                 "be no more than 63 bytes", id="prefixed-key-name-over-63"),
    pytest.param("Example.com/app=web", f'{_R}<nil>: Invalid value: "Example.com/app": prefix part {_SUBDOMAIN_RULE}',
                 id="prefix-not-lowercase-subdomain"),
    pytest.param("/app", f'{_R}<nil>: Invalid value: "/app": prefix part must be non-empty', id="empty-prefix"),
    pytest.param("app/", f'{_R}<nil>: Invalid value: "app/": name part must be non-empty; name part {_KEY_RULE}',
                 id="empty-name-part"),
    pytest.param("a/b/c", f'{_R}<nil>: Invalid value: "a/b/c": a valid label key {_KEY_RULE} with an optional DNS '
                 "subdomain prefix and '/' (e.g. 'example.com/MyName')", id="two-slashes"),
    pytest.param("-app=web", f'{_R}<nil>: Invalid value: "-app": name part {_KEY_RULE}', id="key-starts-with-dash"),
    pytest.param("ключ", f'{_R}<nil>: Invalid value: "ключ": name part {_KEY_RULE}', id="non-latin-key"),
    pytest.param("a\x85b", f'{_R}<nil>: Invalid value: "a\\u0085b": name part {_KEY_RULE}',
                 id="nel-is-not-whitespace"),
    pytest.param("a\x00b", f'{_R}<nil>: Invalid value: "a\\x00b": name part {_KEY_RULE}', id="nul-in-key"),
    pytest.param("\x00app=web", f'{_R}<nil>: Invalid value: "\\x00app": name part {_KEY_RULE}',
                 id="leading-nul-never-ends-the-selector"),
    pytest.param("app=" + "v" * 64, f'{_R}values[0][app]: Invalid value: "{"v" * 64}": must be no more than 63 bytes',
                 id="value-over-63"),
    pytest.param("app=-web", f'{_R}values[0][app]: Invalid value: "-web": {_VALUE_RULE}', id="value-starts-with-dash"),
    pytest.param("x=a||y=b", f'{_R}values[0][x]: Invalid value: "a||y": {_VALUE_RULE}', id="pipes-in-value"),
    pytest.param("env in (prod,-x)", f'{_R}values[0][env]: Invalid value: "-x": {_VALUE_RULE}',
                 id="bad-value-in-set"),
    pytest.param("x==a==b", "found '==', expected: ',' or 'end of string'", id="double-equals-twice"),
    pytest.param("!x=a", "found '=', expected: ',' or 'end of string'", id="not-exists-takes-no-value"),
    pytest.param("a=b c", "found 'c', expected: ',' or 'end of string'", id="two-values"),
    pytest.param("a!", f"{_R}found '!', expected: {_OPERATORS}", id="bang-after-key"),
    pytest.param("a in b", f"{_R}found 'b' expected: '('", id="in-without-parens"),
    pytest.param("a in (", f"{_R}found '', expected: ',', ')' or identifier", id="unclosed-set"),
    pytest.param("a in (b c)", f"{_R}found 'c', expected: ',' or ')'", id="set-without-comma"),
    pytest.param("a=(b)", f"{_R}found '(', expected: identifier", id="paren-as-value"),
    pytest.param("!", f"{_R}found '', expected: identifier", id="bang-alone"),
    pytest.param("=x", "found '=', expected: !, identifier, or 'end of string'", id="no-key"),
    pytest.param("x=a,", "found '', expected: identifier after ','", id="trailing-comma"),
    pytest.param("a,,=b", "found ',', expected: identifier after ','", id="double-comma"),
    pytest.param("x<a", f'{_R}values[0]: Invalid value: "a": {_NOT_INT}', id="lt-not-an-integer"),
    pytest.param("x>99999999999999999999", f'{_R}values[0]: Invalid value: "99999999999999999999": {_NOT_INT}',
                 id="gt-beyond-int64"),
])
def test_refused_with_kubernetes_message(selector: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        labels.parse(selector)
    assert str(caught.value) == message


@pytest.mark.parametrize(("selector", "selected", "not_selected"), [
    pytest.param("x>1", [{"x": "2"}, {"x": "+3"}], [{"x": "1"}, {"x": "two"}, {"x": " 2"}, {"x": "2_0"}, {}], id="gt"),
    pytest.param("x<5", [{"x": "4"}, {"x": "-7"}], [{"x": "10"}, {"x": "5"}], id="lt"),
    pytest.param("a in (,b)", [{"a": ""}, {"a": "b"}], [{"a": "c"}, {}], id="empty-value-in-set"),
    pytest.param("a notin ()", [{"a": "x"}, {}], [{"a": ""}], id="empty-set-holds-the-empty-value"),
])
def test_operators_match_as_kubernetes(selector: str, selected: list[dict[str, str]],
                                       not_selected: list[dict[str, str]]) -> None:
    parsed = labels.parse(selector)
    assert [parsed.matches(x) for x in selected + not_selected] == [True] * len(selected) + [False] * len(not_selected)


@pytest.mark.parametrize(("selector", "canonical"), [
    pytest.param("b=1,a=2", "a=2,b=1", id="sorted-by-key"),
    pytest.param("x = a , !y", "x=a,!y", id="whitespace-dropped"),
    pytest.param("x in (c,a,a,b)", "x in (a,b,c)", id="set-sorted-and-deduplicated"),
    pytest.param("x>1,z<5", "x>1,z<5", id="gt-lt"),
    pytest.param("in in (in,notin)", "in in (in,notin)", id="keywords-as-key-and-values"),
    pytest.param("example.com/app.kubernetes.io-x_y=V.1", "example.com/app.kubernetes.io-x_y=V.1",
                 id="qualified-key"),
    pytest.param("k" * 63 + "=" + "v" * 63, "k" * 63 + "=" + "v" * 63, id="63-is-the-limit"),
])
def test_canonical_form(selector: str, canonical: str) -> None:
    assert str(labels.parse(selector)) == canonical


@pytest.mark.parametrize(("value", "quoted"), [
    pytest.param("plain", '"plain"', id="plain"),
    pytest.param('a"b\\c', '"a\\"b\\\\c"', id="quote-and-backslash"),
    pytest.param("\r\n\t", '"\\r\\n\\t"', id="control-escapes"),
    pytest.param("\x7f", '"\\x7f"', id="del"),
    pytest.param("\u2028é", '"\\u2028é"', id="line-separator-escaped-letter-kept"),
])
def test_go_quote(value: str, quoted: str) -> None:
    assert labels.go_quote(value) == quoted
