"""Korean: Hangul syllables decomposed and romanized the ways the lists write them.

Each syllable (U+AC00–U+D7A3) is an initial, a vowel and an optional final consonant. It is
written three ways, without diacritics or apostrophes:

- **Revised Romanization** (South Korea since 2000): 정 jeong, 은 eun, 철 cheol;
- **McCune-Reischauer** (the older standard): 정 chong, 은 un, 철 chol;
- **the DPRK's own spelling**, which OFAC and the UN follow for North Korean entries: 정 jong,
  철 chol, 택 thaek, 룡 ryong ("KIM Jong Un", "RI Yong Ho", "PAK Pong Ju");

and the popular spellings of South Korean passports (성 sung, 수 soo, 희 hee) are added. The
surname (the first syllable, or a two-syllable surname such as 남궁) takes the spellings
families use (김 Kim, 이 Lee/Yi/Ri/Rhee, 박 Park/Pak), not the system's (gim, i, bak).
Each given-name syllable is a token of its own; the scorer joins them when the list writes
them together ("Jong Un" / "Jongun").
"""

from __future__ import annotations

FIRST, LAST = 0xAC00, 0xD7A3

_INITIALS = {
    # RR, McCune-Reischauer, DPRK
    "rr": "g kk n d tt r m b pp s ss - j jj ch k t p h",
    "mr": "k kk n t tt r m p pp s ss - ch tch ch k t p h",
    "kp": "k kk n t tt r m p pp s ss - j jj ch kh th ph h",
    "pop": "k kk n d tt r m b pp s ss - j jj ch k t p h",
}
_VOWELS = {
    "rr": "a ae ya yae eo e yeo ye o wa wae oe yo u wo we wi yu eu ui i",
    "mr": "a ae ya yae o e yo ye o wa wae oe yo u wo we wi yu u ui i",
    "kp": "a ae ya yae o e yo ye o wa wae oe yo u wo we wi yu u ui i",
    "pop": "a ae ya yae u e yeo ye o wa wae oe yo oo wo we wi yu eu ui i",
}
_FINAL_LETTERS = "- k k k n n n t l k m p t t p l m p p t t ng t t k t p t"
_FINALS = _FINAL_LETTERS.split()
_TABLES = {
    scheme: ([c.strip("-") for c in _INITIALS.get(scheme, _INITIALS["rr"]).split()], v.split())
    for scheme, v in _VOWELS.items()
}

# Surnames as families and the lists spell them (first the most common spelling).
SURNAMES: dict[str, tuple[str, ...]] = {
    k: tuple(v.split())
    for k, v in {
        "김": "kim gim",
        "이": "lee yi ri rhee i",
        "리": "ri lee yi",
        "박": "park pak bak",
        "최": "choi choe chwe",
        "정": "jung jeong chung jong chong",
        "강": "kang gang",
        "조": "cho jo",
        "윤": "yoon yun",
        "장": "jang chang",
        "임": "lim im rim",
        "림": "rim lim",
        "한": "han",
        "오": "oh o",
        "서": "seo suh so",
        "신": "shin sin",
        "권": "kwon gwon",
        "황": "hwang",
        "안": "ahn an",
        "송": "song",
        "류": "ryu yoo yu",
        "유": "yoo yu ryu",
        "전": "jeon jun chon jon",
        "홍": "hong",
        "고": "ko go",
        "문": "moon mun",
        "양": "yang ryang",
        "량": "ryang yang",
        "손": "son sohn",
        "배": "bae pae",
        "백": "baek paek paik",
        "허": "heo hur ho",
        "노": "roh no ro",
        "로": "ro roh",
        "남": "nam",
        "심": "shim sim",
        "하": "ha",
        "곽": "kwak gwak",
        "성": "sung seong song",
        "차": "cha",
        "주": "joo ju chu",
        "우": "woo u",
        "구": "koo ku gu",
        "민": "min",
        "나": "na ra",
        "라": "ra na",
        "진": "jin chin",
        "지": "ji chi",
        "엄": "eom um om",
        "채": "chae",
        "원": "won",
        "천": "cheon chun chon",
        "방": "bang pang",
        "공": "kong gong",
        "현": "hyun hyeon hyon",
        "함": "ham",
        "변": "byun byeon pyon",
        "염": "yeom yom",
        "여": "yeo yo ryo",
        "려": "ryo yeo yo",
        "추": "choo chu",
        "도": "do to",
        "소": "so",
        "석": "seok suk sok",
        "선": "sun seon son",
        "설": "seol sol",
        "마": "ma",
        "길": "gil kil",
        "연": "yeon yon ryon",
        "위": "wi",
        "표": "pyo",
        "명": "myung myeong myong",
        "기": "ki gi",
        "반": "ban pan",
        "왕": "wang",
        "금": "keum kum geum",
        "옥": "ok",
        "육": "yook yuk ryuk",
        "인": "in",
        "제": "je che",
        "모": "mo",
        "탁": "tak",
        "국": "kook kuk guk",
        "은": "eun un",
        "편": "pyun pyeon phyon",
        "용": "yong ryong",
        "룡": "ryong yong",
        "경": "kyung kyong",
        "봉": "bong pong",
        "태": "tae thae",
        "부": "boo bu pu",
        "황보": "hwangbo",
        "남궁": "namgung namkung",
        "제갈": "jegal chegal",
        "선우": "sunwoo seonu sonu",
        "독고": "dokgo tokko",
        "사공": "sagong",
        "서문": "seomun somun",
    }.items()
}


def is_hangul(char: str) -> bool:
    return FIRST <= ord(char) <= LAST


def _parts(syllable: str) -> tuple[int, int, int]:
    code = ord(syllable) - FIRST
    return code // 588, (code % 588) // 28, code % 28


def romanize(syllable: str, scheme: str) -> str:
    """One syllable in one scheme (`rr`, `mr`, `kp` or `pop`), lower case, no marks."""
    initial, vowel, final = _parts(syllable)
    initials, vowels = _TABLES[scheme]
    head, body, tail = initials[initial], vowels[vowel], _FINALS[final].strip("-")
    if scheme == "mr" and head == "s" and body.startswith(("i", "wi")):
        head = "sh"  # 시 shi, 쉬 shwi
    if scheme == "pop":
        if vowel == 6 and tail:  # 현 hyun; 영 young, 경 kyung, 명 myung
            body = "you" if not head and tail == "ng" else "yu"
        elif vowel == 13 and tail:  # 준 jun, 문 mun; open, 수 soo, 우 woo
            body = "u"
        elif vowel == 13 and not head:
            body = "woo"
        elif vowel == 19 and head == "h":  # 희 hee
            body = "ee"
    return head + body + tail


def syllable_forms(syllable: str) -> tuple[str, ...]:
    """A given-name syllable in every scheme, RR first, duplicates dropped."""
    forms = (romanize(syllable, s) for s in ("rr", "kp", "mr", "pop"))
    return tuple(dict.fromkeys(forms))


def _surname(word: str) -> tuple[str, int]:
    """The surname at the start of a word (two syllables when the table knows them)."""
    if len(word) >= 3 and word[:2] in SURNAMES:
        return word[:2], 2
    return word[:1], 1


def word_alternatives(word: str, *, first: bool) -> list[tuple[str, ...]]:
    """Token positions of one Hangul word: the surname first when `first`, then a syllable each."""
    positions: list[tuple[str, ...]] = []
    rest = word
    if first and len(word) >= 2:
        surname, size = _surname(word)
        known = SURNAMES.get(surname)
        if known:
            positions.append(known)
        else:
            positions.extend(syllable_forms(s) for s in surname)
        rest = word[size:]
    positions.extend(syllable_forms(s) for s in rest if is_hangul(s))
    return positions
