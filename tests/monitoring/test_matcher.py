"""The watch-rule matcher: every rule of its docstring on real French posts, the refusal of bad
terms, and a property test against a slow reference written here (rule by rule, term by term,
on the normalised tokens), which knows nothing of automata, caches or byte tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextwork.monitoring import matcher as matcher_module
from nextwork.monitoring.matcher import Matcher, RuleSpec, TermError, check_term, normalise


def matches(terms: tuple[str, ...], text: str, *, exclusions=(), languages=(), lang="") -> bool:
    """Whether one rule made of these terms matches ``text``."""
    return Matcher([RuleSpec(7, terms, exclusions, languages)]).match(text, lang) == {7}


# -- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L'Assemblée NATIONALE", "l assemblee nationale"),
        ("l’Assemblée", "l assemblee"),
        ("Ça suffit : grève générale !", "ca suffit greve generale"),
        ("Œuvre, cœur, ex æquo, Straße", "oeuvre coeur ex aequo strasse"),
        ("«\u00a0loi-travail\u00a0» — aujourd'hui…", "loi travail aujourd hui"),
        ("ＣＧＴ ｆｉｎ", "cgt fin"),  # fullwidth letters, NFKC
        ("e\u0301lus", "elus"),  # decomposed accent
        ("  \t\n ", ""),
        ("grève🔥🔥 ✊", "greve"),
        ("retraites_complémentaires", "retraites complementaires"),
    ],
)
def test_normalise_folds_case_accents_and_punctuation(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_splits_hashtags_and_keeps_their_tokens_at_the_end() -> None:
    assert normalise("Non à la #RéformeDesRetraites !") == (
        "non a la reforme des retraites #reformedesretraites"
    )
    assert normalise("#loi_travail #LoiTravail #loitravail") == (
        "loi travail loi travail loitravail #loitravail #loitravail #loitravail"
    )
    assert normalise("#CGTInfo #Paris2024JO #retraites") == (
        "cgt info paris2024 jo retraites #cgtinfo #paris2024jo #retraites"
    )


def test_normalise_keeps_handles_whole_and_reduces_urls_and_emails_to_their_host() -> None:
    assert normalise("Merci @CGT@Mastodon.Social. et @cgt.bsky.social") == (
        "merci @cgt@mastodon.social et @cgt.bsky.social"
    )
    assert normalise("Lire https://www.cgt.fr/actu/loi-travail?utm_source=x#haut") == "lire cgt fr"
    assert normalise("voir www.Lemonde.fr/politique/") == "voir lemonde fr"
    assert normalise("écrire à contact@cgt.fr") == "ecrire a cgt fr"


def test_what_is_not_a_hashtag_or_handle() -> None:
    assert normalise("C# et &#39; x") == "c et 39 x"
    assert normalise("jean.dupont@cgt.fr") == "cgt fr"


def test_the_fast_path_agrees_with_the_token_path_on_every_latin1_character() -> None:
    """The byte tables are derived from the token path; this proves the derivation, character by
    character, between words and at word edges."""
    for code in range(256):
        char = chr(code)
        for text in (f"ab{char}cd ef", f"{char}x", f"x {char}", f"Ré{char}É"):
            assert matcher_module._padded(text) == matcher_module._padded_tokens(text), text


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list("aàâbcçdeéèêëfiîïoôuùûüyÿAÉÈÇŒœæßÆ 'ʼ’-–—_.,;:!?«»\u00a0\u202f\t\n#@/wx½²µ")
        ),
        max_size=40,
    )
)
def test_the_fast_path_agrees_with_the_token_path(text: str) -> None:
    assert matcher_module._padded(text) == matcher_module._padded_tokens(text)


# -- terms -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Assemblée", "assemblee"),
        ("  Loi-Travail ", "loi travail"),
        ("aujourd’hui", "aujourd hui"),
        ("#LoiTravail", "#loitravail"),
        ("#loi_travail", "#loitravail"),
        ("#RéformeDesRetraites", "#reformedesretraites"),
        ("@CGT", "@cgt"),
        ("@cgt@Mastodon.Social", "@cgt@mastodon.social"),
        ("@cgt.bsky.social", "@cgt.bsky.social"),
        ("cgt.fr", "cgt fr"),
        ("G7", "g7"),
    ],
)
def test_check_term_returns_the_normalised_term(term: str, expected: str) -> None:
    assert check_term(term) == expected


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("", "Term '' is empty."),
        ("   ", "Term '   ' is empty."),
        ("a", "Term 'a' is too short: 2 characters at least."),
        ("é", "Term 'é' is too short: 2 characters at least."),
        ("#a", "Term '#a' is too short: 2 characters at least."),
        ("@x@mastodon.social", "Term '@x@mastodon.social' is too short: 2 characters at least."),
        ("!?!", "Term '!?!' has no letter or digit."),
        ("« — »", "Term '« — »' has no letter or digit."),
        ("x" * 201, "is too long: 200 characters at most."),
        ("#loi travail", "Term '#loi travail' is not a hashtag"),
        ("#loi-travail", "Term '#loi-travail' is not a hashtag"),
        ("@cgt@", "Term '@cgt@' is not a handle"),
        ("@cgt mastodon", "Term '@cgt mastodon' is not a handle"),
    ],
)
def test_check_term_refuses_bad_terms_saying_why(term: str, message: str) -> None:
    with pytest.raises(TermError) as error:
        check_term(term)
    assert message in str(error.value)


def test_a_term_of_200_characters_is_accepted() -> None:
    assert check_term("x" * 200) == "x" * 200


def test_the_matcher_names_the_rule_of_a_bad_term() -> None:
    rules = [RuleSpec(1, ("retraites",)), RuleSpec(42, ("greve",), exclusions=("a",))]
    with pytest.raises(TermError, match=r"^Rule 42: Term 'a' is too short"):
        Matcher(rules)


def test_the_matcher_refuses_rules_it_could_not_honour() -> None:
    with pytest.raises(TermError, match="Rule 3 has no terms"):
        Matcher([RuleSpec(3, ())])
    with pytest.raises(TermError, match="Rule 3 is given twice"):
        Matcher([RuleSpec(3, ("loi",)), RuleSpec(3, ("greve",))])
    with pytest.raises(TermError, match="Rule 4: language 'francais' is not an ISO 639 code"):
        Matcher([RuleSpec(4, ("loi",), languages=("francais",))])


# -- whole words and phrases -------------------------------------------------------------------


def test_a_word_matches_whole_words_only() -> None:
    assert matches(("loi",), "La loi est passée.")
    assert matches(("loi",), "loi")
    assert not matches(("loi",), "Nos loisirs et notre emploi.")
    assert not matches(("loi",), "Les lois sociales")


def test_case_accents_and_elision_do_not_matter() -> None:
    assert matches(("assemblee",), "Rendez-vous devant l'Assemblée !")
    assert matches(("Assemblée",), "RENDEZ-VOUS DEVANT L’ASSEMBLEE")
    assert matches(("greve generale",), "Vers la Grève Générale")
    assert matches(("coeur",), "Au cœur du cortège")


def test_a_phrase_matches_its_words_in_sequence() -> None:
    assert matches(("loi travail",), "Retrait de la loi Travail !")
    assert matches(("loi travail",), "La loi-travail, encore")
    assert not matches(("loi travail",), "La loi sur le travail")
    assert not matches(("loi travail",), "Le travail de la loi")


def test_terms_that_overlap_or_share_a_prefix_all_match() -> None:
    rules = [
        RuleSpec(1, ("loi",)),
        RuleSpec(2, ("loi travail",)),
        RuleSpec(3, ("la loi",)),
        RuleSpec(4, ("travail",)),
        RuleSpec(5, ("travailleurs",)),
    ]
    assert Matcher(rules).match("contre la loi travail") == {1, 2, 3, 4}


# -- hashtags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["#LoiTravail", "#loi_travail", "#loitravail", "#LOITRAVAIL !"])
def test_spellings_of_a_hashtag_are_the_same_hashtag(text: str) -> None:
    assert matches(("#LoiTravail",), f"Tous dans la rue {text}")
    assert matches(("#loi_travail",), f"Tous dans la rue {text}")


def test_a_hashtag_term_matches_the_hashtag_only() -> None:
    assert not matches(("#LoiTravail",), "la loi travail")
    assert not matches(("#LoiTravail",), "la loitravail")
    assert not matches(("#retraites",), "les retraites")
    assert not matches(("#LoiTravail",), "#LoiTravail2016")


def test_plain_terms_match_the_words_of_a_hashtag() -> None:
    text = "Non à la #RéformeDesRetraites"
    assert matches(("retraites",), text)
    assert matches(("reforme des retraites",), text)
    assert matches(("la reforme",), text)  # the hashtag's words read as part of the sentence
    assert matches(("retraites",), "Toutes et tous en grève #retraites")
    assert matches(("loi travail",), "#loi_travail")
    assert not matches(("loi",), "#loitravail")  # no case, no underscore: one word


# -- handles -----------------------------------------------------------------------------------


def test_a_bare_handle_matches_that_name_on_any_instance() -> None:
    assert matches(("@cgt",), "Merci @cgt !")
    assert matches(("@cgt",), "Merci @CGT@mastodon.social !")
    assert matches(("@cgt",), "cc @cgt@piaille.fr")
    assert not matches(("@cgt",), "Merci @cgtinfo")
    assert not matches(("@cgt",), "Merci @cgt.bsky.social")


def test_a_full_handle_matches_that_account_only() -> None:
    assert matches(("@cgt@mastodon.social",), "cc @cgt@Mastodon.social.")
    assert not matches(("@cgt@mastodon.social",), "cc @cgt@piaille.fr")
    assert not matches(("@cgt@mastodon.social",), "cc @cgt")


def test_handles_and_plain_words_do_not_match_each_other() -> None:
    assert not matches(("@cgt",), "La CGT appelle à la grève")
    assert not matches(("cgt",), "Merci @cgt")
    assert not matches(("cgt",), "Merci @cgt@mastodon.social")
    assert matches(("cgt",), "La CGT et @cgt")


def test_email_addresses_are_not_handles() -> None:
    assert not matches(("@cgt",), "Écrire à contact@cgt.fr")
    assert not matches(("@contact",), "Écrire à contact@cgt.fr")
    assert matches(("cgt",), "Écrire à contact@cgt.fr")


# -- URLs --------------------------------------------------------------------------------------


def test_urls_keep_their_host_and_drop_the_rest() -> None:
    url = "https://www.lemonde.fr/politique/article/2023/loi-travail_6123.html?utm_source=fb#xtor"
    assert matches(("lemonde",), f"À lire {url}")
    assert matches(("lemonde.fr",), f"À lire {url}")
    assert not matches(("loi travail",), f"À lire {url}")
    assert not matches(("politique",), f"À lire {url}")
    assert not matches(("www",), f"À lire {url}")
    assert not matches(("#xtor",), f"À lire {url}")
    assert not matches(("https",), f"À lire {url}")


# -- exclusions and languages ------------------------------------------------------------------


def test_an_exclusion_vetoes_its_rule_only() -> None:
    rules = [
        RuleSpec(1, ("retraites",), exclusions=("retraites complementaires",)),
        RuleSpec(2, ("retraites",)),
    ]
    matcher = Matcher(rules)
    assert matcher.match("Les retraites complémentaires baissent") == {2}
    assert matcher.match("Les retraites baissent") == {1, 2}
    assert matcher.match("#RetraitesComplementaires") == {2}


def test_an_exclusion_wins_over_any_number_of_terms() -> None:
    rule = RuleSpec(1, ("greve", "syndicat"), exclusions=("#greve",))
    assert Matcher([rule]).match("grève du syndicat") == {1}
    assert Matcher([rule]).match("grève du syndicat #grève") == set()


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("fr", {1, 2, 3}),
        ("fr-FR", {1, 2, 3}),
        ("FR_ca", {1, 2, 3}),
        ("", {1, 2, 3}),
        ("und", {1, 2, 3}),
        ("en", {1, 3}),
        ("en-GB", {1, 3}),
        ("de", {1}),
    ],
)
def test_languages_compare_the_primary_subtag_and_let_unknown_pass(lang, expected) -> None:
    rules = [
        RuleSpec(1, ("paris",)),
        RuleSpec(2, ("paris",), languages=("fr",)),
        RuleSpec(3, ("paris",), languages=("FR-fr", "en")),
    ]
    assert Matcher(rules).match("Rendez-vous à Paris", lang) == expected


# -- the matcher as a whole --------------------------------------------------------------------


def test_many_rules_sharing_terms() -> None:
    rules = [RuleSpec(i, ("greve", f"mot{i}")) for i in range(1, 1001)]
    matcher = Matcher(rules)
    assert len(matcher) == 1000
    assert matcher.match("Grève !") == set(range(1, 1001))
    assert matcher.match("mot17 et mot999") == {17, 999}
    assert matcher.match("rien ici") == set()


def test_no_rules_match_nothing() -> None:
    matcher = Matcher([])
    assert len(matcher) == 0
    assert matcher.match("grève") == set()


def test_the_token_cache_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(matcher_module, "TOKEN_CACHE_SIZE", 3)
    matcher_module._token_cache.clear()
    assert normalise("#Un deux trois quatre cinq #Six") == "un deux trois quatre cinq six #un #six"
    assert len(matcher_module._token_cache) <= 3


# -- against a slow reference ------------------------------------------------------------------


def reference_match(rules: list[RuleSpec], text: str, lang: str) -> set[int]:
    """The semantics, rule by rule and term by term, on the list of normalised tokens."""
    tokens = normalise(text).split(" ") if normalise(text) else []
    primary = lang.replace("_", "-").split("-")[0].lower()

    def has(term: str) -> bool:
        wanted = check_term(term).split(" ")
        for start in range(len(tokens) - len(wanted) + 1):
            window = tokens[start : start + len(wanted)]
            if window == wanted:
                return True
            bare_handle = len(wanted) == 1 and wanted[0][0] == "@" and "@" not in wanted[0][1:]
            if bare_handle and window[0].startswith(wanted[0] + "@"):
                return True
        return False

    found = set()
    for rule in rules:
        languages = {code.split("-")[0].lower() for code in rule.languages}
        if languages and primary not in ("", "und") and primary not in languages:
            continue
        if any(has(t) for t in rule.terms) and not any(has(t) for t in rule.exclusions):
            found.add(rule.id)
    return found


WORDS = ["loi", "travail", "la", "retraites", "greve", "cgt", "reforme", "des", "assemblee"]
SPELLINGS = {
    "loi": ["loi", "Loi", "LOI"],
    "travail": ["travail", "Travail"],
    "la": ["la", "La", "l'"],
    "retraites": ["retraites", "Retraites"],
    "greve": ["grève", "Grève", "greve"],
    "cgt": ["cgt", "CGT"],
    "reforme": ["réforme", "Réforme", "reforme"],
    "des": ["des", "Des"],
    "assemblee": ["Assemblée", "assemblée"],
}
HANDLES = ["@cgt", "@CGT@mastodon.social", "@cgt@piaille.fr", "@greve", "@cgt.bsky.social"]

term_strategy = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(
        lambda ws: "#" + "".join(w.capitalize() for w in ws)
    ),
    st.sampled_from(["@cgt", "@cgt@mastodon.social", "@greve", "@cgt.bsky.social"]),
)
rule_strategy = st.builds(
    lambda terms, exclusions, languages: (tuple(terms), tuple(exclusions), tuple(languages)),
    st.lists(term_strategy, min_size=1, max_size=3),
    st.lists(term_strategy, max_size=2),
    st.lists(st.sampled_from(["fr", "en", "FR-be"]), max_size=2),
)


@st.composite
def post_strategy(draw) -> str:
    pieces = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.integers(0, 9))
        if kind <= 5:
            pieces.append(draw(st.sampled_from(SPELLINGS[draw(st.sampled_from(WORDS))])))
        elif kind == 6:
            words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
            joiner = draw(st.sampled_from(["", "_"]))
            pieces.append("#" + joiner.join(w.capitalize() for w in words))
        elif kind == 7:
            pieces.append(draw(st.sampled_from(HANDLES)))
        elif kind == 8:
            pieces.append(draw(st.sampled_from([",", ".", "-", "!", "«", "»", "contact@cgt.fr"])))
        else:
            pieces.append(draw(st.sampled_from(["https://cgt.fr/loi-travail", "loisirs"])))
    separators = draw(st.lists(st.sampled_from([" ", " ", "-", "’", " - "]), min_size=len(pieces)))
    return "".join(p + s for p, s in zip(pieces, separators, strict=False))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(rule_strategy, min_size=1, max_size=12),
    st.lists(post_strategy(), min_size=1, max_size=5),
    st.sampled_from(["", "fr", "fr-FR", "en", "de", "und"]),
)
def test_matcher_agrees_with_the_reference(rule_parts, posts, lang) -> None:
    rules = [RuleSpec(i, t, e, la) for i, (t, e, la) in enumerate(rule_parts, start=1)]
    matcher = Matcher(rules)
    for post in posts:
        assert matcher.match(post, lang) == reference_match(rules, post, lang)


def test_the_reference_is_not_trivially_empty() -> None:
    """The property test is only worth something if matches happen: check the generators give
    posts that match rules, and posts that do not."""
    rules = [RuleSpec(1, ("loi travail",)), RuleSpec(2, ("#LoiTravail",)), RuleSpec(3, ("@cgt",))]
    post = "la Loi-Travail #LoiTravail @CGT@mastodon.social"
    assert reference_match(rules, post, "") == {1, 2, 3}
    assert reference_match(rules, "loi du travail, #loi @cgtinfo", "") == set()


# -- the fast paths against the token path -----------------------------------------------------

SPECIAL_TOKENS = [
    "#RéformeDesRetraites",
    "#loi_travail",
    "#CGTInfo",
    "#Paris2024JO",
    "#Œuvre",
    "(#LoiTravail)",
    "#x",
    "C#",
    "&#39;",
    "@CGT@Mastodon.Social.",
    "@cgt.bsky.social",
    "@René",
    "contact@cgt.fr",
    "jean.dupont@Cgt.fr,",
    "https://www.cgt.fr/actu/loi-travail?utm_source=x#haut",
    "http://Élysée.fr/",
    "www.Lemonde.fr/politique/",
    "WWW.cgt.fr",
    "www…",
    "https://x.fr/“a”",
    "a/b",
    "1/2",
    "//",
    "@",
    "#",
]
PLAIN_TOKENS = [
    "loi",
    "Travail",
    "l’Assemblée",
    "d'un",
    "aujourd'hui",
    "grève,",
    "élus.",
    "«",
    "»",
    "—",
    "Œuvre",
    "cœur",
    "ex-æquo",
    "Straße",
    "½",
    "µ",
    "ＣＧＴ",
    "e\u0301lus",
    "…",
    "www",
    "3.5",
]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(SPECIAL_TOKENS + PLAIN_TOKENS), max_size=12),
    st.lists(st.sampled_from([" ", " ", "  ", "\u00a0", "\u202f", "\n", "\t"]), min_size=12),
)
def test_the_mixed_path_agrees_with_the_token_path(tokens: list[str], spaces: list[str]) -> None:
    """Posts with hashtags, handles, URLs and emails send only those tokens through the token
    cache; whatever surrounds them, the whole post must read as the token path reads it."""
    text = "".join(token + space for token, space in zip(tokens, spaces, strict=False))
    assert matcher_module._padded(text) == matcher_module._padded_tokens(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=20))
def test_the_folding_table_agrees_with_unicode_folding(text: str) -> None:
    """The Latin-1 table of :func:`_fold` equals casefold, NFKD, marks dropped, NFC."""
    assert matcher_module._fold(text) == matcher_module._unaccent(text.casefold())


def test_phrases_match_across_special_tokens_as_on_the_token_path() -> None:
    """A hashtag's words stay in their sentence; a handle or URL between two words keeps them
    apart."""
    assert matches(("non a la reforme des retraites",), "Non à la #RéformeDesRetraites !")
    assert matches(("la loi travail", "#LoiTravail"), "Contre la #LoiTravail, @cgt dit non")
    assert not matches(("loi travail",), "la loi @cgt travail")
    assert not matches(("loi travail",), "la loi https://cgt.fr/x travail")
    assert matches(("loi cgt fr travail",), "la loi https://cgt.fr/x travail")


def test_the_language_cache_gives_what_the_languages_say() -> None:
    rules = [RuleSpec(1, ("greve",), languages=("fr",)), RuleSpec(2, ("greve",))]
    matcher = Matcher(rules)
    for _ in range(2):  # the second time from the cache
        assert matcher.match("grève", "fr-FR") == {1, 2}
        assert matcher.match("grève", "en") == {2}
        assert matcher.match("grève", "und") == {1, 2}
        assert matcher.match("grève", "") == {1, 2}
