"""Matching posts against watch rules: thousands of rules in one pass over each post.

A watch rule (:class:`RuleSpec`) lists *terms*, optional *exclusions* and optional *languages*.
A post matches a rule when it contains at least one of the terms, none of the exclusions, and its
language is one of the rule's languages (or unknown, or the rule has none).

Every term and exclusion of every rule goes into one Aho-Corasick automaton (``pyahocorasick``):
a post is normalised once, the automaton walks it once, and what it finds is turned into rule ids
with set operations. The cost of a post grows with its length and with the number of terms it
actually contains, not with the number of rules, so 10,000 rules cost about as much as one
(``bench/monitoring_match.py`` measures it).

Normalisation (:func:`normalise`, applied the same way to posts and to terms)
----------------------------------------------------------------------------------
- Unicode NFKC, then casefold, then accents removed: ``É`` → ``e``, ``ç`` → ``c``, ``ß`` → ``ss``,
  ``œ`` → ``oe``, ``æ`` → ``ae`` (all combining marks are dropped, in every script).
- Everything that is not a letter or a digit separates words: apostrophes, quotes, dashes,
  underscores, punctuation, symbols, emoji. Whitespace is collapsed to one space. So the French
  elision ``l'Assemblée`` (or ``l’Assemblée``) gives the words ``l assemblee`` and the term
  ``assemblee`` matches; ``loi-travail`` gives ``loi travail``; ``aujourd'hui`` gives
  ``aujourd hui``, and so does the term ``aujourd'hui``.
- **Hashtags** (``#`` then letters, digits or underscores, not glued to a preceding word: ``C#``
  and ``&#39;`` are not hashtags) give two things. In place, their *words*, split at underscores
  and at camel case (``#RéformeDesRetraites`` → ``reforme des retraites``, ``#loi_travail`` →
  ``loi travail``, ``#CGTInfo`` → ``cgt info``, ``#Paris2024JO`` → ``paris2024 jo``; an
  all-lowercase or all-capital hashtag is one word: ``#retraites`` → ``retraites``,
  ``#loitravail`` → ``loitravail``); so a hashtag reads as part of its sentence and ``Non à la
  #RéformeDesRetraites`` matches the phrase ``la reforme des retraites``. And, at the end of the
  normalised text, the hashtag *token*: ``#`` and its folded letters without underscores, so
  ``#LoiTravail``, ``#loi_travail`` and ``#loitravail`` are all the token ``#loitravail``.
- **Handles** (``@name``, ``@name@instance.example``, ``@name.bsky.social``; not glued to a
  preceding word, so ``contact@cgt.fr`` is an email address, not a handle) stay one token in
  place, folded like words but keeping their ``.``, ``-``, ``_`` and ``@``: ``@CGT@Mastodon.Social``
  → ``@cgt@mastodon.social``. They are never split into words.
- **URLs** (``http://``, ``https://`` or ``www.``) are reduced to the words of their host, without
  a leading ``www``: ``https://www.cgt.fr/actu/loi-travail?utm_source=x`` → ``cgt fr``. Scheme,
  port, path, query and fragment are dropped: they are mostly identifiers and tracking noise in
  which short terms would match by accident, and the post's own text says what the link is about.
  Keeping the host lets a rule on ``cgt`` (or ``cgt.fr``) see links to the organisation's site.
- **Email addresses** are reduced the same way to the words of their domain
  (``contact@cgt.fr`` → ``cgt fr``): the local part is personal data and says nothing of the
  subject.

Example: ``normalise("Non à la #RéformeDesRetraites ! @CGT l’a dit https://www.cgt.fr/x?y=1")``
is ``"non a la reforme des retraites @cgt l a dit cgt fr #reformedesretraites"``.

Terms (:func:`check_term`)
--------------------------
A term is one of three kinds, told apart by its first character:

- **words**: a keyword (``retraites``) or a phrase (``loi travail``), normalised as above. It
  matches whole words only, in sequence: ``loi`` matches ``la loi Travail`` and ``loi-travail``
  but not ``loisirs`` nor ``emploi``; ``loi travail`` matches ``loi-travail`` and
  ``#LoiTravail`` but not ``loi sur le travail``. It never matches inside a handle or a
  hashtag token: ``cgt`` does not match ``@cgt`` (it does match ``#CGT``, whose word is ``cgt``).
- **a hashtag**: ``#`` then letters, digits or underscores, no space. It matches that hashtag
  only (``#LoiTravail`` = ``#loi_travail`` = ``#loitravail``), never the plain words.
- **a handle**: ``@name`` matches that account on any instance (``@cgt`` and
  ``@cgt@mastodon.social``); ``@name@instance.example`` matches that one account only. A
  Bluesky handle is written as it is (``@cgt.bsky.social``). A handle term never matches the
  plain word.

A term is refused (:class:`TermError`, with a message naming the term and what is wrong) when it
is empty, longer than 200 characters, has no letter or digit, is shorter than 2 characters once
normalised (for a hashtag or handle: its name, without ``#``/``@``), or starts with ``#``/``@``
without being a well-formed hashtag/handle (``#loi travail``: write ``#LoiTravail`` or
``loi travail``).

Exclusions and languages
------------------------
- Exclusions are terms of the same syntax: a post containing any of a rule's exclusions does
  not match that rule, whatever its terms. With terms ``("retraites",)`` and exclusions
  ``("retraites complementaires",)``, ``les retraites complémentaires`` does not match and
  ``les retraites`` does.
- A rule with languages ``("fr",)`` matches posts whose language's primary subtag is ``fr``,
  compared case-insensitively (``fr``, ``fr-FR``, ``FR_ca``), and posts whose language is
  unknown (empty, or ``und``): feeds often do not say. It does not match ``en``. A rule without
  languages matches every language.

Cost
----
A post in Latin-1 (most French text, once its curly quotes, dashes and ``œ`` are replaced) is
normalised whole by two ``bytes.translate`` tables, derived character by character from the
general rules above. If it holds ``#``, ``@``, ``/`` or ``www.``, only the whitespace tokens that
do go the general way, the rest of the post staying on the tables. Any other post is normalised
whitespace token by whitespace token. The general way goes through a cache of the tokens already
seen (at most ``TOKEN_CACHE_SIZE`` entries, emptied when full), because words, handles and
hashtags repeat: most tokens are then a dictionary look-up instead of Unicode folding and regular
expressions. Tests check that every path gives what the token-by-token path gives.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

MIN_LENGTH = 2
MAX_LENGTH = 200
TOKEN_CACHE_SIZE = 200_000
LANGUAGE_CACHE_SIZE = 1_000
UNKNOWN_LANGUAGES = frozenset({"", "und"})


@dataclass(frozen=True)
class RuleSpec:
    """What the matcher needs of a watch rule; terms and exclusions use the syntax of the module
    docstring, languages are ISO 639-1 codes (empty: any language)."""

    id: int
    terms: tuple[str, ...]
    exclusions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


class TermError(ValueError):
    """A term (or a rule) that cannot be matched; the message says which and why, in English."""


# -- normalisation -----------------------------------------------------------------------------

# Letters that lose nothing but their look when spelled out, and that NFKD does not decompose.
_LETTERS = str.maketrans(
    {"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ħ": "h", "ı": "i"}
)
_WORD = re.compile(r"[^\W_]+")
_DOMAIN = r"[^\W_][\w-]*(?:\.[^\W_][\w-]*)+"
_NAME = r"\w+(?:[.-]\w+)*"
# The first alternative that matches at the earliest position wins: a URL swallows the '#' of
# its fragment and the '@' of its userinfo, an email address the '@' that a handle would want.
_SPECIAL = re.compile(
    rf"(?P<url>(?:https?://|www\.)[^\s<>\"]+)"
    rf"|(?P<email>(?<![\w.+@-])[\w.+-]+@{_DOMAIN})"
    rf"|(?P<handle>(?<![\w@/.+-])@{_NAME}(?:@{_DOMAIN})?)"
    rf"|(?P<hashtag>(?<![\w#&/])#\w+)",
    re.IGNORECASE,
)
_HASHTAG_TERM = re.compile(r"#\w+")
_HANDLE_TERM = re.compile(rf"@{_NAME}(?:@{_DOMAIN})?")
_URL_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^/?#@]*@)?([^/?#:]*)", re.IGNORECASE)


def _fold(text: str) -> str:
    """Casefold and remove accents, keeping every character that is not a mark."""
    text = text.casefold()
    if text.isascii():
        return text
    # Latin-1 text (French, mostly) a character at a time through a table derived from
    # _unaccent below; a NUL byte marks the characters that do not give one Latin-1 character.
    try:
        folded = text.encode("latin-1").translate(_UNACCENT_BYTES)
    except UnicodeEncodeError:
        return _unaccent(text)
    return _unaccent(text) if 0 in folded else folded.decode("latin-1")


def _unaccent(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Recompose what NFKD split apart without being an accent (Hangul syllables, for one).
    return unicodedata.normalize("NFC", stripped).translate(_LETTERS)


def _unaccent_table() -> bytes:
    # Without marks, nothing that Latin-1 decomposes into recomposes with its neighbour: the
    # folding of a Latin-1 text is that of its characters, one by one.
    table = bytearray(256)
    for byte in range(1, 256):
        folded = _unaccent(chr(byte))
        if len(folded) == 1 and ord(folded) < 256:
            table[byte] = ord(folded)
    return bytes(table)


_UNACCENT_BYTES = _unaccent_table()


def _words(text: str) -> str:
    """The words of a piece of plain text, folded, one space between them."""
    return " ".join(_WORD.findall(_fold(text)))


def _camel_words(name: str) -> str:
    """Split a hashtag's name at underscores and camel case: ``RéformeDesRetraites`` →
    ``Réforme Des Retraites``, ``CGTInfo`` → ``CGT Info``, ``Paris2024JO`` → ``Paris2024 JO``."""
    words: list[str] = []
    for part in name.split("_"):
        start = 0
        for i in range(1, len(part)):
            previous, char = part[i - 1], part[i]
            if char.isupper() and (
                previous.islower()
                or previous.isdigit()
                or (previous.isupper() and i + 1 < len(part) and part[i + 1].islower())
            ):
                words.append(part[start:i])
                start = i
        words.append(part[start:])
    return " ".join(words)


def _hashtag_token(name: str) -> str:
    return "#" + _fold(name.replace("_", ""))


def _host_words(address: str) -> str:
    host = _URL_HOST.match(address)
    name = host.group(1) if host else ""
    if name[:4].casefold() == "www.":
        name = name[4:]
    return _words(name)


def _normalise_token(raw: str) -> str | tuple[str, tuple[str, ...]]:
    """One whitespace-separated token of a post: its words (and handles) followed by one space,
    or "" when it has none; with its hashtag tokens alongside (each followed by one space too)
    when it holds hashtags, for :func:`normalise` to move them to the end of the text."""
    text = unicodedata.normalize("NFKC", raw)
    if "#" not in text and "@" not in text and "/" not in text and "." not in text:
        words = _words(text)
        return f"{words} " if words else ""
    pieces: list[str] = []
    tags: list[str] = []
    end = 0
    for found in _SPECIAL.finditer(text):
        pieces.append(_words(text[end : found.start()]))
        end = found.end()
        kind, value = found.lastgroup, found.group()
        if kind == "url":
            pieces.append(_host_words(value))
        elif kind == "email":
            pieces.append(_words(value.rpartition("@")[2]))
        elif kind == "handle":
            pieces.append(_fold(value))
        else:
            pieces.append(_words(_camel_words(value[1:])))
            tags.append(_hashtag_token(value[1:]) + " ")
    pieces.append(_words(text[end:]))
    words = "".join(f"{piece} " for piece in pieces if piece)
    return (words, tuple(tags)) if tags else words


_token_cache: dict[str, str | tuple[str, tuple[str, ...]]] = {}


def _cached_token(raw: str) -> str | tuple[str, tuple[str, ...]]:
    value = _token_cache.get(raw)
    if value is None:
        value = _normalise_token(raw)
        if len(_token_cache) >= TOKEN_CACHE_SIZE:
            _token_cache.clear()
        _token_cache[raw] = value
    return value


def _padded_tokens(text: str) -> str:
    """:func:`normalise` with one space before and after, token by token through the cache:
    one ``str.split``, one dictionary look-up per token (each cached value carries its trailing
    space, so a plain ``"".join`` needs no clean-up), and Python-level work only on a cache miss
    or a hashtag."""
    tokens = text.split()
    cache = _token_cache
    try:
        parts = [cache[token] for token in tokens]
    except KeyError:
        parts = [_cached_token(token) for token in tokens]
    try:
        # Joining fails on the (words, hashtags) pairs: then, and only then, take the slow path.
        return " " + "".join(parts)  # type: ignore[arg-type]
    except TypeError:
        words: list[str] = []
        tags: list[str] = []
        for part in parts:
            if isinstance(part, tuple):
                words.append(part[0])
                tags.extend(part[1])
            else:
                words.append(part)
        return " " + "".join(words) + "".join(tags)


# The fast path, for the common case of a post in Latin-1 (most French text, once its curly
# apostrophes and œ are replaced): one 256-byte bytes.translate table does NFKC, casefold, accent
# removal and separators at C speed. Each byte maps to what the token path gives for that
# character alone (computed from it below, so the two cannot drift apart: a test compares them),
# or to NUL when that is not one ASCII character (ß → ss, µ → μ, ½ → 1⁄2): NUL sends the post to
# the token path. The table keeps ``#``, ``@``, ``/`` and ``.``, to find the whitespace tokens
# that may hold a hashtag, handle, URL or email address: only those go through the token path
# (:func:`_padded_mixed`), the rest of the post stays on the fast path. A second table finds the
# whitespace around them.
_COMMON = (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-"))
_COMMON += (("…", "."), ("œ", "oe"), ("Œ", "OE"), ("\u202f", " "))


def _byte_tables() -> tuple[bytes, bytes]:
    fold, blank = bytearray(256), bytearray(256)
    for byte in range(256):
        char = chr(byte)
        # What str.split() splits at; Latin-1 bytes are code points, so this is exact.
        blank[byte] = ord(" ") if char.isspace() else ord("x")
        if char in "#@/.":
            fold[byte] = byte  # kept for the look-out for URLs, handles, hashtags
            continue
        words = _words(unicodedata.normalize("NFKC", char))
        if words == "":
            fold[byte] = ord(" ")
        elif len(words) == 1 and words.isascii():
            fold[byte] = ord(words)
        else:
            fold[byte] = 0
    return bytes(fold), bytes(blank)


_FOLD_BYTES, _BLANK_BYTES = _byte_tables()
_SPECIAL_MARKS = (b"#", b"@", b"/", b"www.")


def _spaced(data: bytes) -> str:
    """Folded bytes whose separators are spaces → ``" words "`` (or ``" "``), one space between
    words: the automaton's keys hold single spaces."""
    # Runs of two (", ", ". ") are most of them: split and join halves what a replace loop costs.
    # bytes.find, not ``in``: with a bytes needle ``in`` costs twice as much.
    data = b" ".join(data.split(b"  "))
    while data.find(b"  ") >= 0:
        data = data.replace(b"  ", b" ")
    data = data.strip(b" ")
    return f" {data.decode('ascii')} " if data else " "


def _padded(text: str) -> str:
    """:func:`normalise` with one space before and after: ``" loi travail "``; the hot path of
    :meth:`Matcher.match`."""
    latin = text
    if not latin.isascii():
        for char, replacement in _COMMON:
            if char in latin:
                latin = latin.replace(char, replacement)
    try:
        raw = latin.encode("latin-1")
    except UnicodeEncodeError:
        return _padded_tokens(text)
    data = raw.translate(_FOLD_BYTES)
    if 0 in data:
        return _padded_tokens(text)
    if 35 in data or 64 in data or 47 in data or data.find(b"www.") >= 0:  # '#', '@', '/'
        # Only œ and Œ change length (into oe, OE): without them, byte i of ``raw`` is
        # character i of ``text``, and whitespace is where it was.
        if len(raw) != len(text):
            return _padded_tokens(text)
        return _padded_mixed(text, raw, data)
    # Of the four characters kept for the look-out, only '.' can be left: a word separator.
    return _spaced(data.replace(b".", b" "))


def _padded_mixed(text: str, raw: bytes, data: bytes) -> str:
    """The fast path for a post with a few hashtags, handles, URLs or email addresses: the
    whitespace tokens holding ``#``, ``@``, ``/`` or ``www.`` go through the token cache, their
    words spliced in place into the rest of the post, which goes through the byte table."""
    blank = raw.translate(_BLANK_BYTES)
    spans: set[tuple[int, int]] = set()
    for mark in _SPECIAL_MARKS:
        at = data.find(mark)
        while at >= 0:
            start = blank.rfind(b" ", 0, at) + 1
            end = blank.find(b" ", at)
            if end < 0:
                end = len(blank)
            spans.add((start, end))
            at = data.find(mark, end)
    # Outside the special tokens no '#', '@' or '/' is left, only '.' to turn into a space.
    plain = data.replace(b".", b" ")
    parts: list[bytes] = []
    tags: list[str] = []
    previous = 0
    try:
        for start, end in sorted(spans) if len(spans) > 1 else spans:
            value = _cached_token(text[start:end])
            if isinstance(value, tuple):
                tags.extend(value[1])
                value = value[0]
            # Whitespace on both sides of the token (or the edge of the text): the words
            # cannot run into their neighbours, and _spaced collapses the extra spaces.
            parts.append(plain[previous:start])
            parts.append(value.encode("ascii"))
            previous = end
    except UnicodeEncodeError:  # a handle in letters that do not fold to ASCII
        return _padded_tokens(text)
    parts.append(plain[previous:])
    return _spaced(b"".join(parts)) + "".join(tags)


def normalise(text: str) -> str:
    """The text the matcher searches in: words, handles and hashtag tokens separated by single
    spaces, as described in the module docstring."""
    return _padded(text)[1:-1]


# -- terms -------------------------------------------------------------------------------------


def _shown(term: str) -> str:
    return f"'{term}'" if len(term) <= 60 else f"'{term[:57]}...'"


def check_term(term: str) -> str:
    """The normalised form of a term (what the matcher looks for), or :class:`TermError`."""
    shown = _shown(term)
    text = unicodedata.normalize("NFKC", term).strip()
    if not text:
        raise TermError(f"Term {shown} is empty.")
    if len(text) > MAX_LENGTH:
        raise TermError(f"Term {shown} is too long: {MAX_LENGTH} characters at most.")
    if not any(char.isalnum() for char in text):
        raise TermError(f"Term {shown} has no letter or digit.")
    if text[0] == "#":
        if not _HASHTAG_TERM.fullmatch(text):
            raise TermError(
                f"Term {shown} is not a hashtag: after '#' come letters, digits or underscores, "
                "without spaces (write '#LoiTravail' for the hashtag, 'loi travail' for the words)."
            )
        normalised = _hashtag_token(text[1:])
        name = normalised[1:]
    elif text[0] == "@":
        if not _HANDLE_TERM.fullmatch(text):
            raise TermError(
                f"Term {shown} is not a handle: write '@name', '@name@instance.example' "
                "or '@name.bsky.social', without spaces."
            )
        normalised = _fold(text)
        name = normalised[1:].partition("@")[0]
    else:
        normalised = name = _words(text)
    if len(name) < MIN_LENGTH:
        raise TermError(f"Term {shown} is too short: {MIN_LENGTH} characters at least.")
    return normalised


def _primary_language(code: str) -> str:
    return code.strip().replace("_", "-").partition("-")[0].casefold()


# -- the matcher -------------------------------------------------------------------------------


class Matcher:
    """All the rules in one automaton. Immutable once built: build a new one when rules change
    (10,000 rules take a fraction of a second) and swap it in.

    Each normalised key is stored once; behind it, the frozenset of the rules it belongs to, a
    rule ``r`` that has it as an exclusion being written ``~r`` (negative, since ids are not),
    and ``None`` when there is such an exclusion. One set of plain ints lets :meth:`match` gather
    every hit with a single C-level ``set().union(*...)`` over the automaton's output, with no
    Python loop over the matches; ``None in found`` then says in one hash look-up whether an
    exclusion needs applying."""

    def __init__(self, rules: Iterable[RuleSpec]) -> None:
        keys: dict[str, set[int]] = {}
        allowed: dict[str, set[int]] = {}  # language -> the restricted rules that allow it
        restricted: set[int] = set()
        ids: set[int] = set()
        for rule in rules:
            if rule.id in ids:
                raise TermError(f"Rule {rule.id} is given twice.")
            if rule.id < 0:
                raise TermError(f"Rule {rule.id}: a rule id cannot be negative.")
            ids.add(rule.id)
            if not rule.terms:
                raise TermError(f"Rule {rule.id} has no terms: it would never match.")
            for terms, signed in ((rule.terms, rule.id), (rule.exclusions, ~rule.id)):
                for term in terms:
                    try:
                        normalised = check_term(term)
                    except TermError as error:
                        raise TermError(f"Rule {rule.id}: {error}") from error
                    for key in _keys(normalised):
                        keys.setdefault(key, set()).add(signed)
            languages = {_primary_language(code) for code in rule.languages}
            for language in languages:
                if not (language.isascii() and language.isalpha() and 2 <= len(language) <= 3):
                    raise TermError(
                        f"Rule {rule.id}: language {_shown(language)} is not an ISO 639 code "
                        "such as 'fr'."
                    )
                allowed.setdefault(language, set()).add(rule.id)
            if languages:
                restricted.add(rule.id)
        self._count = len(ids)
        self._automaton: ahocorasick.Automaton | None = None
        if keys:
            self._automaton = ahocorasick.Automaton()
            for key, signed_ids in keys.items():
                excluded = (_EXCLUSION,) if min(signed_ids) < 0 else ()
                self._automaton.add_word(key, frozenset((*signed_ids, *excluded)))
            self._automaton.make_automaton()
        # For each language some rule names: the restricted rules that do not allow it. A
        # language no rule names bars every restricted rule.
        self._restricted = frozenset(restricted)
        self._barred = {
            language: frozenset(restricted - rule_ids) for language, rule_ids in allowed.items()
        }
        # Posts give their language as a few strings ("fr", "fr-FR", ""): each one's barred rules
        # are worked out once. Feeds could send anything, hence the bound.
        self._barred_by_code: dict[str, frozenset[int]] = {}

    def __len__(self) -> int:
        return self._count

    def match(self, text: str, lang: str = "") -> set[int]:
        """Ids of the rules that ``text`` (a post in language ``lang``, empty if unknown)
        matches."""
        if self._automaton is None:
            return set()
        found: set[int | None] = set().union(*map(_value, self._automaton.iter(_padded(text))))
        if not found:
            return set()
        if _EXCLUSION in found:
            found = {i for i in found if i is not None and i >= 0 and ~i not in found}
        barred = self._barred_by_code.get(lang)
        if barred is None:
            barred = self._barred_for(lang)
        if barred:
            # Set difference walks the left operand when it is the smaller: cost follows the
            # hits, not the number of rules.
            found = found - barred
        return found  # type: ignore[return-value]  # no None left: it comes with a negative id

    def _barred_for(self, lang: str) -> frozenset[int]:
        """The restricted rules that a post in language ``lang`` cannot match."""
        language = _primary_language(lang)
        if not self._restricted or language in UNKNOWN_LANGUAGES:
            barred: frozenset[int] = frozenset()
        else:
            barred = self._barred.get(language, self._restricted)
        if len(self._barred_by_code) >= LANGUAGE_CACHE_SIZE:
            self._barred_by_code.clear()
        self._barred_by_code[lang] = barred
        return barred


_value = operator.itemgetter(1)  # (end index, value) -> value
_EXCLUSION = None  # in the rule set of a key that is some rule's exclusion


def _keys(term: str) -> tuple[str, ...]:
    """What to look for in ``" " + normalise(text) + " "``: spaces on both sides make the term
    match whole tokens only. A bare handle also matches the start of the same name on any
    instance (``" @cgt@"`` in ``" @cgt@mastodon.social "``)."""
    if term[0] == "@" and "@" not in term[1:]:
        return (f" {term} ", f" {term}@")
    return (f" {term} ",)
