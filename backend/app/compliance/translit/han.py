"""Chinese: Han characters read in Mandarin and written in pinyin without tones.

The readings come from pypinyin (its dictionary of characters and phrases). A Chinese name is
written surname first, the surname one character (two for 欧阳, 司马…), the given name one or
two. Surnames that read otherwise as words take their surname reading (单 Shan, 曾 Zeng,
解 Xie, 仇 Qiu, 区 Ou). The given name is one token, its syllables written together as pinyin
does ("习近平" → "xi jinping"); the scorer splits nothing but joins a list's "Jin Ping" back.
Each part is also given in Wade-Giles, as Taiwan and older lists write it ("Chang", "Hsu").
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

# The surname reading of characters that read otherwise in common words.
SURNAME_READINGS = {
    "单": "shan",
    "單": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "區": "ou",
    "查": "zha",
    "盖": "ge",
    "蓋": "ge",
    "乐": "yue",
    "樂": "yue",
    "覃": "qin",
    "缪": "miao",
    "繆": "miao",
    "朴": "piao",
    "翟": "zhai",
    "秘": "bi",
    "召": "shao",
    "员": "yun",
    "薄": "bo",
    "尉迟": "yuchi",
    "万俟": "moqi",
    "长孙": "zhangsun",
    "長孫": "zhangsun",
}
# Surnames as Taiwan, Hong Kong and Southeast Asia spell them (Wade-Giles, Cantonese, Hokkien).
SURNAME_SPELLINGS = {
    "李": "lee",
    "陈": "chan tan",
    "陳": "chan tan",
    "张": "cheung",
    "張": "cheung",
    "黄": "wong",
    "黃": "wong",
    "王": "wong",
    "吴": "ng goh",
    "吳": "ng goh",
    "林": "lam lim",
    "郑": "cheng",
    "鄭": "cheng",
    "刘": "lau",
    "劉": "lau",
    "周": "chow chau",
    "何": "ho",
    "梁": "leung",
    "郭": "kwok kuo",
    "许": "hui",
    "許": "hui",
    "谢": "tse hsieh",
    "謝": "tse hsieh",
    "杨": "yeung",
    "楊": "yeung",
    "蔡": "choi",
    "邓": "tang",
    "鄧": "tang",
    "叶": "yip yeh",
    "葉": "yip yeh",
    "苏": "so",
    "蘇": "so",
    "罗": "law lo",
    "羅": "law lo",
}
_COMPOUND = """欧阳 歐陽 司马 司馬 诸葛 諸葛 上官 东方 東方 皇甫 令狐 公孙 公孫 夏侯 尉迟 尉遲 长孙
長孫 宇文 司徒 慕容 万俟 端木 西门 西門 澹台 澹臺 轩辕 軒轅 呼延 闻人 聞人"""
COMPOUND_SURNAMES = frozenset(_COMPOUND.split())


def is_han(char: str) -> bool:
    code = ord(char)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


def pinyin(text: str) -> list[str]:
    """Toneless pinyin syllables of `text`, ü as u."""
    return [s.replace("ü", "u") for s in lazy_pinyin(text, style=Style.NORMAL, v_to_u=True)]


_WG_INITIALS = (
    ("zh", "ch"), ("ch", "ch"), ("sh", "sh"), ("b", "p"), ("d", "t"), ("g", "k"),
    ("z", "ts"), ("c", "ts"), ("j", "ch"), ("q", "ch"), ("x", "hs"), ("r", "j"),
)  # fmt: skip
_WG_WHOLE = {
    "zhi": "chih", "chi": "chih", "shi": "shih", "ri": "jih", "zi": "tzu", "ci": "tzu",
    "si": "ssu", "you": "yu", "yan": "yen", "ye": "yeh", "yong": "yung", "he": "ho",
    "ke": "ko", "ge": "ko", "e": "o",
}  # fmt: skip
_WG_FINALS = (
    (re.compile(r"ong$"), "ung"),
    (re.compile(r"ian$"), "ien"),
    (re.compile(r"ie$"), "ieh"),
)


def wade_giles(syllable: str) -> str:
    """A toneless pinyin syllable in Wade-Giles without apostrophes or umlauts."""
    if syllable in _WG_WHOLE:
        return _WG_WHOLE[syllable]
    head, rest = "", syllable
    for pin, wade in _WG_INITIALS:
        if syllable.startswith(pin):
            head, rest = wade, syllable[len(pin) :]
            break
    for pattern, replacement in _WG_FINALS:
        rest = pattern.sub(replacement, rest)
    return head + rest


def _surname_of(word: str) -> str:
    return word[:2] if len(word) >= 3 and word[:2] in COMPOUND_SURNAMES else word[:1]


def _forms(syllables: list[str]) -> tuple[str, ...]:
    glued = "".join(syllables)
    return tuple(dict.fromkeys((glued, "".join(wade_giles(s) for s in syllables))))


def word_alternatives(word: str, *, first: bool) -> list[tuple[str, ...]]:
    """Token positions of one Han word: the surname (when `first`), then the given name."""
    chars = "".join(c for c in word if is_han(c))
    if not chars:
        return []
    if not first or len(chars) == 1:
        return [_forms(pinyin(chars))]
    surname = _surname_of(chars)
    reading = SURNAME_READINGS.get(surname)
    surname_syllables = [reading] if reading else pinyin(surname)
    local = tuple(SURNAME_SPELLINGS.get(surname, "").split())
    surname_forms = tuple(dict.fromkeys(_forms(surname_syllables) + local))
    return [surname_forms, _forms(pinyin(chars[len(surname) :]))]
