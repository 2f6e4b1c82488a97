#!/usr/bin/env python3
"""Regenerates tokenizer/unicode_data.c: the Unicode property tables that HF
`tokenizers` uses, so lepton's tokenizers match it character for character.

HF tokenizers takes some properties from old crates rather than from the Rust
standard library:
  - `unicode_categories` 0.1.1 (2016, Unicode 9.0): punctuation (BertPreTokenizer,
    Punctuation), Cc/Cf/Co "other" (BertNormalizer clean_text), Mn (strip accents);
  - `unicode-normalization-alignments` 0.1.12 (Unicode 9.0): NFD/NFC/NFKD/NFKC,
    canonical combining classes, composition pairs, General_Category=Mark
    (StripAccents normalizer).
Everything else comes from utf8proc at run time. For normalization we use
utf8proc's decompositions and combining classes, except for the code points
listed here (assigned after Unicode 9.0), which HF treats as having none.

Usage: gen_unicode_data.py UNICODE_CATEGORIES_TABLES_RS UNORM_TABLES_RS > tokenizer/unicode_data.c
  UNICODE_CATEGORIES_TABLES_RS: src/tables.rs of swgillespie/unicode-categories at
      commit 92bb24621c201261662c96f8f884050065dc2856 (crate 0.1.1)
  UNORM_TABLES_RS: src/tables.rs of n1t0/unicode-normalization at 9ca6960 (crate
      unicode-normalization-alignments 0.1.12)
Needs libutf8proc.so.2 (for the differences with utf8proc).
"""
import ctypes
import re
import sys


def rust_block(src, name):
    i = src.index("const %s:" % name) if ("const %s:" % name) in src else src.index("static %s :" % name)
    j = src.index("];", i)
    return src[src.index("&[", src.index("=", i)) + 2:j]


def ranges(values):
    out = []
    for c in sorted(values):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def emit_ranges(name, values, comment):
    rs = ranges(values)
    print("/* %s */" % comment)
    print("const lp_tok_range %s[] = {" % name)
    line = "   "
    for lo, hi in rs:
        item = " {0x%X, 0x%X}," % (lo, hi)
        if len(line) + len(item) > 96:
            print(line)
            line = "   "
        line += item
    print(line)
    print("};")
    print("const size_t %s_count = %d;\n" % (name, len(rs)))


def main():
    cats_src = open(sys.argv[1]).read()
    norm_src = open(sys.argv[2]).read()

    def cat(name):
        return set(int(x, 16) for x in re.findall(r"\\u\{([0-9A-Fa-f]+)\}", rust_block(cats_src, name)))

    punct = set()
    for n in ["PUNCTUATION_CONNECTOR", "PUNCTUATION_DASH", "PUNCTUATION_CLOSE", "PUNCTUATION_FINAL_QUOTE",
              "PUNCTUATION_INITIAL_QUOTE", "PUNCTUATION_OTHER", "PUNCTUATION_OPEN"]:
        punct |= cat(n)
    other = cat("OTHER_CONTROL") | cat("OTHER_FORMAT") | cat("OTHER_PRIVATE_USE")
    other |= set(range(0xE000, 0xF900)) | set(range(0xF0000, 0xFFFFE)) | set(range(0x100000, 0x10FFFE))
    mn = cat("MARK_NONSPACING")

    ccc = {}
    for x in re.findall(r"0x([0-9A-Fa-f]+)", rust_block(norm_src, "CANONICAL_COMBINING_CLASS_KV")):
        v = int(x, 16)
        ccc[v >> 8] = v & 0xFF

    def decomp(name):
        d = {}
        for k, chars in re.findall(r"\(0x([0-9a-fA-F]+), &\[(.*?)\]\)", rust_block(norm_src, name)):
            d[int(k, 16)] = [int(c, 16) for c in re.findall(r"\\u\{([0-9A-Fa-f]+)\}", chars)]
        return d

    canon = decomp("CANONICAL_DECOMPOSED_KV")
    compat = decomp("COMPATIBILITY_DECOMPOSED_KV")
    marks = set(int(x, 16) for x in re.findall(r"0x([0-9A-Fa-f]+)", rust_block(norm_src, "COMBINING_MARK_KV")))
    comp = {}
    for k, c in re.findall(r"\(0x([0-9A-Fa-f]+), '\\u\{([0-9A-Fa-f]+)\}'\)",
                           rust_block(norm_src, "COMPOSITION_TABLE_KV")):
        k = int(k, 16)
        comp[(k >> 16, k & 0xFFFF)] = int(c, 16)
    astral = norm_src[norm_src.index("fn composition_table_astral"):]
    astral = astral[:astral.index("_ => None")]
    for a, b, c in re.findall(r"\('\\u\{([0-9A-F]+)\}', '\\u\{([0-9A-F]+)\}'\) => Some\('\\u\{([0-9A-F]+)\}'\)", astral):
        comp[(int(a, 16), int(b, 16))] = int(c, 16)

    lib = ctypes.CDLL("libutf8proc.so.2")

    class Prop(ctypes.Structure):
        _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16)]

    lib.utf8proc_get_property.restype = ctypes.POINTER(Prop)
    buf = (ctypes.c_int32 * 32)()

    def u_decomp(c, compat_flag):
        opts = (1 << 3) | ((1 << 2) if compat_flag else 0)  # UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT
        n = lib.utf8proc_decompose_char(c, buf, 32, opts, None)
        return list(buf[:n])

    differs = set()
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000 or 0xAC00 <= c <= 0xD7A3:
            continue
        if lib.utf8proc_get_property(c).contents.combining_class != ccc.get(c, 0):
            assert ccc.get(c, 0) == 0, hex(c)
            differs.add(c)
        if u_decomp(c, False) != canon.get(c, [c]):
            assert c not in canon, hex(c)
            differs.add(c)
        if u_decomp(c, True) != compat.get(c, canon.get(c, [c])):
            assert c not in canon and c not in compat, hex(c)
            differs.add(c)

    print("/* Generated by tokenizer/scripts/gen_unicode_data.py; do not edit. See that script")
    print(" * for where each table comes from and why. */")
    print('#include "tokenizer/unicode.h"\n')
    emit_ranges("lp_tok_u9_punct", punct, "General_Category P* in Unicode 9.0 (unicode_categories 0.1.1)")
    emit_ranges("lp_tok_u9_other", other, "Cc | Cf | Co in Unicode 9.0 (unicode_categories 0.1.1 is_other)")
    emit_ranges("lp_tok_u9_mn", mn, "Mn in Unicode 9.0 (unicode_categories 0.1.1)")
    emit_ranges("lp_tok_u9_mark", marks, "General_Category=Mark in Unicode 9.0 (unicode-normalization-alignments)")
    emit_ranges("lp_tok_u9_norm_unassigned", differs,
                "code points whose utf8proc decomposition or combining class is newer than Unicode 9.0:\n"
                " * HF tokenizers' normalizer treats them as plain starters")
    pairs = sorted(comp.items())
    print("/* Canonical composition pairs of Unicode 9.0 (Hangul is algorithmic). */")
    print("const lp_tok_compose_pair lp_tok_u9_compose[] = {")
    for (a, b), c in pairs:
        print("    {0x%X, 0x%X, 0x%X}," % (a, b, c))
    print("};")
    print("const size_t lp_tok_u9_compose_count = %d;" % len(pairs))


if __name__ == "__main__":
    main()
