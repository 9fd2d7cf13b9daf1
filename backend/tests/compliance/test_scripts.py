"""Names in other scripts: each script's conventions, real screenings, look-alikes, the gate."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest

from app.compliance.matching import name_positions, name_tokens, score_names
from app.compliance.translit import hangul, script_of, transliterations
from app.compliance.translit.arabic import word_forms
from app.compliance.translit.cyrillic import word_forms as cyrillic_forms
from app.compliance.translit.han import wade_giles
from app.compliance.translit.han import word_alternatives as han_parts

SCREEN = "/api/v1/compliance/screenings"
BENCH = Path(__file__).resolve().parents[3] / "bench"


# --- conventions -----------------------------------------------------------------------------


def test_script_of_tells_the_scripts_apart():
    assert script_of("Viktor Karelin") == "latin"
    assert script_of("Виктор Карелин") == "cyrillic"
    assert script_of("محمد القاسمي") == "arabic"
    assert script_of("حمیدرضا جعفرزاده") == "persian"  # ی and ک are Persian forms
    assert script_of("김정은") == "hangul"
    assert script_of("习近平") == "han"


def test_hangul_syllables_in_revised_and_mccune_reischauer_romanization():
    assert hangul.romanize("정", "rr") == "jeong" and hangul.romanize("정", "mr") == "chong"
    assert hangul.romanize("철", "rr") == "cheol" and hangul.romanize("철", "mr") == "chol"
    assert hangul.romanize("은", "rr") == "eun" and hangul.romanize("은", "mr") == "un"
    assert hangul.romanize("택", "kp") == "thaek"  # the DPRK's own: 장성택 Jang Song Thaek
    assert hangul.romanize("룡", "kp") == "ryong"
    assert hangul.romanize("시", "mr") == "shi"
    assert hangul.romanize("성", "pop") == "sung" and hangul.romanize("영", "pop") == "young"


def test_korean_surnames_take_the_spellings_families_use():
    assert hangul.word_alternatives("김정은", first=True)[0] == ("kim", "gim")
    assert {"lee", "yi", "ri"} <= set(hangul.word_alternatives("이명수", first=True)[0])
    assert {"park", "pak"} <= set(hangul.word_alternatives("박봉주", first=True)[0])
    assert hangul.word_alternatives("남궁민수", first=True)[0][0] == "namgung"
    assert "Kim Jong Un" in transliterations("김정은")


def test_han_names_in_pinyin_surname_first_with_surname_readings():
    assert han_parts("习近平", first=True) == [("xi", "hsi"), ("jinping", "chinping")]
    assert han_parts("曾庆红", first=True)[0][0] == "zeng"  # not ceng
    assert han_parts("单雄飞", first=True)[0][0] == "shan"  # not dan
    assert han_parts("欧阳明", first=True)[0] == ("ouyang",)  # two-character surname
    assert "lee" in han_parts("李登輝", first=True)[0]  # traditional, Taiwan's spelling
    assert wade_giles("zhang") == "chang" and wade_giles("xu") == "hsu"


def test_arabic_words_get_the_vowelled_forms_the_lists_use():
    assert {"muhammad", "mohammed", "mohammad"} <= set(word_forms("محمد", persian=False))
    assert "al-qasimi" in word_forms("القاسمي", persian=False)  # ال → al-
    assert "el-qasimi" in word_forms("القاسمي", persian=False)
    assert word_forms("القاسمي", persian=False)[0] == "qasimi"
    assert word_forms("مصطفى", persian=False)[0] == "mustafa"


def test_persian_letters_and_conventions():
    assert word_forms("حسین", persian=True)[0] == "hossein"  # Persian, not Hussein
    assert "chegini" in word_forms("چگینی", persian=True)  # چ ch
    assert word_forms("پرویز", persian=True)[0] == "parviz"  # پ p
    assert word_forms("ژاله", persian=True)[0].startswith("zh")  # ژ zh
    assert word_forms("گلپایگانی", persian=True)[0].startswith("g")  # گ g
    assert word_forms("کاظمی", persian=True) == word_forms("كاظمي", persian=True)  # ک/ك, ی/ي
    assert word_forms("جعفرزاده", persian=True)[0] == "jafarzadeh"  # -zadeh
    assert word_forms("احمدی\u200cنژاد", persian=True)[0] == "ahmadinejad"  # half-space


def test_cyrillic_keeps_working_and_spells_ukrainian_names_the_ukrainian_way():
    assert cyrillic_forms("Дмитрий")[0] == "dmitriy" and "dmitry" in cyrillic_forms("Дмитрий")
    assert "hrytsenko" in cyrillic_forms("Гриценко")
    assert "alexander" in cyrillic_forms("Александр")


def test_latin_names_are_unchanged():
    assert transliterations("José Ramírez") == []
    assert name_tokens("Dr. José-Luis RAMÍREZ ortega") == ("jose", "luis", "ortega", "ramirez")
    assert all(len(p) == 1 for p in name_positions("Mohammed Abdul-Rahim Al-Qasimi"))


# --- scores ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("محمد عبد الرحيم القاسمي", "AL-QASIMI, Mohammed Abdul-Rahim"),
        ("حمیدرضا جعفرزاده", "JAFARZADEH, Hamid Reza"),
        ("김정은", "KIM, Jong Un"),
        ("리영호", "RI, Yong Ho"),
        ("박봉주", "PAK, Pong Ju"),
        ("이명수", "LEE, Myung Soo"),
        ("习近平", "XI, Jinping"),
        ("Оксана Гриценко", "HRYTSENKO, Oksana"),
    ],
)
def test_a_name_in_its_script_matches_the_listed_latin_name(query, listed):
    assert score_names(query, listed) >= 0.8


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("محمد علي حسين", "HASAN, Muhammad Ali"),  # Hussein is not Hasan
        ("سلمان داود الحربي", "AL-HARBI, Sulaiman Dawood"),  # Salman is not Sulaiman
        ("سعید جلالی", "JALILI, Saeed"),  # Jalali is not Jalili
        ("김정일", "KIM, Jong Un"),
        ("박성진", "PAK, Jong Chon"),  # a syllable one letter off is another syllable
        ("李文涛", "LI, Wenhao"),  # Wentao
        ("Игорь Сечников", "SECHIN, Igor Ivanovich"),
    ],
)
def test_look_alikes_in_other_scripts_stay_below_the_line(query, listed):
    assert score_names(query, listed) < 0.8


# --- real screening --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("query", "program", "name"),
    [
        ("محمد عبد الرحيم القاسمي", "DEMO-SDGT", "AL-QASIMI, Mohammed Abdul-Rahim"),
        ("علی اکبر مرادخانی", "DEMO-IRAN", "MORADKHANI, Ali Akbar"),
        ("Дмитрий Александрович Волконов", "DEMO-RUS", "VOLKONOV, Dmitri Aleksandrovich"),
    ],
)
def test_officer_screening_of_a_name_in_another_script(
    client, officer, sanctions_list, query, program, name
):
    _, headers = officer
    response = client.post(SCREEN, json={"name": query}, headers=headers)
    assert response.status_code == 200, response.json
    (match,) = response.json["matches"]
    assert match["name"] == name and match["program"] == program


@pytest.mark.postgres
def test_a_customer_cannot_take_a_listed_name_written_in_persian(client, customer, sanctions_list):
    _, headers = customer
    refused = client.patch(
        "/api/v1/auth/me", json={"first_name": "حمیدرضا", "last_name": "جعفرزاده"}, headers=headers
    )
    assert refused.status_code == 403, refused.json
    assert refused.json["error"]["code"] == "sanctions_hit"


LATIN_ONLY = """uid,name,type,program,aliases,dates_of_birth,countries
S-1,"RI, Myong Chol",individual,DEMO-SCRIPTS,,1961,KP
S-2,"ZHAO, Lijian",individual,DEMO-SCRIPTS,,1972,CN
S-3,"HOSSEINI, Mehdi",individual,DEMO-SCRIPTS,,1970,IR
"""


@pytest.mark.postgres
def test_hangul_and_han_names_screen_against_latin_only_entries(
    app, client, officer, demo_list_after
):
    from app.compliance.sanctions import load_list
    from app.core.extensions import db

    with app.app_context():
        load_list(db.session(), io.StringIO(LATIN_ONLY), source="test:scripts", force=True)
        db.session.remove()
    _, headers = officer

    def names(query: str) -> list[str]:
        response = client.post(SCREEN, json={"name": query}, headers=headers)
        assert response.status_code == 200, response.json
        return [m["name"] for m in response.json["matches"]]

    assert names("리명철") == ["RI, Myong Chol"]
    assert names("이명철") == ["RI, Myong Chol"]  # 이 is Ri in the North
    assert names("赵立坚") == ["ZHAO, Lijian"]
    assert names("趙立堅") == ["ZHAO, Lijian"]  # traditional characters
    assert names("مهدی حسینی") == ["HOSSEINI, Mehdi"]
    assert names("리명수") == [] and names("赵立新") == [] and names("مهدی حسنی") == []


# --- the quality gate ------------------------------------------------------------------------


def _evaluation():
    spec = importlib.util.spec_from_file_location("screening_eval", BENCH / "screening_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("screening_eval", module)
    spec.loader.exec_module(module)
    return module


def test_recall_and_precision_per_script_on_the_evaluation_set():
    counts = _evaluation().evaluate_scripts(threshold=0.80)
    for script in ("arabic", "persian", "hangul", "han", "cyrillic"):
        c = counts[script]
        assert c["tp"] + c["fn"] >= 20 and c["tn"] + c["fp"] >= 20, script
        assert c["recall"] >= 0.9, (script, c)
        assert c["precision"] >= 0.95, (script, c)
