"""Words that say little about who a name is, and sounds that transliterations spell apart.

`matching.py` drops titles, particles and legal forms before it compares names, weighs the
generic words of company names down, and takes two tokens with one `skeleton` (sounds spelled
alike folded) for one name when they are also close as written.
"""

from __future__ import annotations

import re
from functools import lru_cache


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Titles, honorifics and generational suffixes: never part of who someone is.
HONORIFICS = _word_set(
    """
    mr mrs ms miss mx dr prof professor sir dame lord lady madam madame mme mlle monsieur
    herr frau sr sra srta senor senora don dona dom sheikh shaikh sheik haji hajji hadji
    imam mullah ayatollah emir amir prince princess king queen president minister general
    gen col colonel maj major capt captain lt lieutenant sgt sergeant adm admiral cmdr rev
    reverend father fr brother sister mother jr junior snr senior ii iii iv esq phd md mv
    """
)
# Particles that transliterations keep, drop or glue at will ("Abd al-Rahman", "bin Laden").
PARTICLES = _word_set(
    """
    al el ul ad ad ar as at az bin ibn bint ben abu umm abd abdul abdel abdal abdol abdoul
    van von der den de del della di da du dos das la le y e
    """
)
# Legal forms: not part of what distinguishes one company from another.
LEGAL_FORMS = _word_set(
    """
    llc ltd limited inc incorporated corp corporation co company plc gmbh ag sa sas sarl srl
    spa bv nv oy ab as fze fzco fzc jsc ojsc pjsc cjsc ooo zao oao llp lp pte sdn bhd
    """
)
# Words many company names share: matching them says little.
GENERIC_WORDS = _word_set(
    """
    trading trade shipping logistics exchange house holding holdings group international
    industries industrial services service bank banco banque finance financial investment
    investments petrochemical petrochemicals metallurgical steel oil gas energy import
    export general enterprise enterprises global partners resources marine maritime airlines
    transport commercial development construction technology technologies works
    """
)

_VOWELS = re.compile(r"[aeiouy]+")
_REPEATS = re.compile(r"(.)\1+")

# Transliteration equivalences applied to the skeleton (sounds spelled differently).
_SKELETON_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"ph", "f"),
        (r"ck", "k"),
        (r"q", "k"),
        (r"c(?=[eiy])", "s"),
        (r"c", "k"),
        (r"dh", "d"),
        (r"th", "t"),
        (r"kh", "h"),
        (r"gh", "g"),
        (r"sch", "sh"),
        (r"tch", "ch"),
        (r"tsh", "ch"),
        (r"dj", "j"),
        (r"zh", "j"),
        (r"x", "ks"),
        (r"w", "v"),
        (r"z", "s"),
        (r"(?<=.)h", ""),
        (r"ie$", "i"),
    )
)


@lru_cache(maxsize=65536)
def skeleton(token: str) -> str:
    """A transliteration skeleton: sounds spelled alike folded, vowel runs folded to `a`."""
    value = token
    for pattern, replacement in _SKELETON_RULES:
        value = pattern.sub(replacement, value)
    value = _REPEATS.sub(r"\1", value)
    return _VOWELS.sub("a", value)
