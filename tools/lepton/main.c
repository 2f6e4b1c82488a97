/* `lepton`: one binary, one subcommand per file in this folder. */
#include <stdio.h>
#include <string.h>

#include "tools/lepton/commands.h"

static const lp_command COMMANDS[] = {
    {"info", "show the tensors, dtypes, shapes and architecture of a checkpoint", lp_cmd_info},
    {"classify-image", "classify images with a ResNet (JSON per image: labels, indices, scores)", lp_cmd_classify_image},
    {"tokenize", "tokenize stdin lines with a tokenizer.json / vocab.txt / SentencePiece model", lp_cmd_tokenize},
    {"detokenize", "turn JSON arrays of token ids (one per line) back into text", lp_cmd_detokenize},
    {"classify", "classify stdin lines (or TAB-separated pairs) with a BERT-family model", lp_cmd_classify},
    {"embed", "sentence embeddings of stdin lines with a BERT-family / sentence-transformers model", lp_cmd_embed},
    {"translate", "translate stdin lines with a Marian (opus-mt) model: greedy or beam search", lp_cmd_translate},
    {"serve", "run the HTTP model server (task endpoints, KServe v2, metrics)", lp_cmd_serve},
    {"bench", "load-test a running server: concurrency / rate sweeps, latency percentiles", lp_cmd_bench},
};

static void usage(FILE *out) {
    fprintf(out,
            "usage: lepton <command> [options]\n"
            "       lepton --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(out, "  %-15s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\n'lepton <command> --help' describes a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("lepton %s\n", LP_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) {
            lp_cli_shorten_openmp_spin(argv);
            return COMMANDS[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "lepton: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
