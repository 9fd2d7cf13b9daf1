"""Name words in Arabic script and the Latin spellings the sanctions lists use for them.

Keys are normalized (`arabic.normalize`: no short-vowel marks, ي for ی/ى, ك for ک, ا for
أ/إ/آ, ه for ة). A value is "Arabic spellings | Persian spellings" (the Persian ones used when
the name is written with Persian letters); without a bar both conventions spell it alike.
Only names: surnames made of them (Hosseini, Jafarzadeh) are built by `arabic.py`, and words
not here are written by its rules.
"""

from __future__ import annotations

_NAMES = """
محمد muhammad mohammed mohammad mohamed | mohammad mohamad
احمد ahmad ahmed
محمود mahmoud mahmud mahmood
مصطفي mustafa mostafa moustafa | mostafa mustafa
علي ali
حسن hassan hasan
حسين hussein husayn hussain | hossein hosein hussein
عبدالله abdullah abdallah abdulla | abdollah abdullah
عمر omar umar
عثمان uthman osman othman | osman
خالد khalid khaled
يوسف yusuf yousef youssef yousuf | yousef yusef
ابراهيم ibrahim ebrahim | ebrahim ibrahim
اسماعيل ismail ismael | esmail ismail
اسامه usama osama | osameh osama
كريم karim kareem
طارق tariq tarek tareq
رشيد rashid rasheed
سمير samir
فاطمه fatima fatimah | fatemeh fatima
عايشه aisha aysha | aisheh
مريم maryam mariam
زينب zainab zaynab zeinab | zeinab zeynab
ليلي layla leila laila | leila leyla
نور noor nour nur
هدي huda hoda | hoda
سلمي salma
رانيا rania
اميره amira amirah
رضا rida reza | reza
مهدي mahdi mehdi | mehdi mahdi
جواد jawad javad | javad
جعفر jafar jaafar | jafar jafaar
قاسم qasim qassem kassem | ghasem qasem
كاظم kadhim kazim kazem | kazem
حميد hamid
سعيد saeed said saeid | saeed saeid
مجيد majid
عباس abbas
اكبر akbar
اصغر asghar
صالح salih saleh
سالم salim salem
ناصر nasser nasir naser | naser nasser
منصور mansour mansur
فيصل faisal faysal
بشار bashar
اسد assad asad
صدام saddam
عزيز aziz
عزت izzat ezzat | ezzat
بكر bakr bakir
عيسي isa issa eisa | isa eisa
موسي musa moussa mousa | mousa musa
داود dawud daoud dawood | davoud davood
سليمان sulaiman suleiman sulayman | soleiman soleyman
حبيب habib
جمال jamal | jamal
كمال kamal
نبيل nabil
وليد walid
ماهر maher
زهير zuhair zuhayr | zoheir
بلال bilal
انور anwar
امين amin ameen
ايمن ayman
اسعد asaad asad
شريف sharif
رحيم rahim raheem
رحمن rahman
رحمان rahman
عزالدين izzaldin izzeddin ezzeddin
صلاح salah
نصر nasr
نصرالله nasrallah | nasrollah
فضل fadl fazl | fazl
غلام ghulam | gholam
حيدر haidar haydar | heydar
محسن muhsin mohsen | mohsen
مرتضي murtada murtaza | morteza
مجتبي mujtaba | mojtaba
هاشم hashim hashem | hashem
ابوبكر abubakr abubakar
معمر muammar moammar
قذافي qadhafi gaddafi qaddafi
ظريف zarif
روحاني rouhani rohani
خامنهاي khamenei
نصير nasir naseer
حمزه hamza hamzah
طاهر tahir taher | taher
عادل adil adel | adel
فريد farid
بهرام | bahram
مراد murad mourad | morad murad
قادر qadir kader | ghader
نعمت nimat | nemat
نجيب najib
عدنان adnan
عمار ammar
ياسر yasser yasir | yaser
امير amir
باقر baqir bakir | bagher baqer
جلال jalal
سلمان salman
سعد saad sad
جليل jalil
پرويز | parviz parvis
بهروز | behrouz behruz
فرهاد | farhad
مسعود masud masoud | masoud massoud
وحيد wahid | vahid
اميد | omid
نرگس | narges
زهرا zahra | zahra
كوروش | kourosh kurosh
"""


def _parse() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    table: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for line in _NAMES.strip().splitlines():
        key, _, forms = line.partition(" ")
        arabic, bar, persian = forms.partition("|")
        arabic_forms = tuple(arabic.split())
        persian_forms = tuple(persian.split()) if bar else arabic_forms
        table[key] = (arabic_forms or persian_forms, persian_forms or arabic_forms)
    return table


NAMES = _parse()


def _spelled() -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for key, (arabic, persian) in NAMES.items():
        for form in arabic + persian:
            found.setdefault(form, set()).add(key)
    return {form: frozenset(keys) for form, keys in found.items()}


# Each Latin spelling in the table, and the names (keys) it spells.
SPELLED = _spelled()
