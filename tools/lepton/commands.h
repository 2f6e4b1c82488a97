/* The subcommands of `lepton`. Each gets argv starting at its own name and
 * returns the process exit code: 0 success, 1 failure, 2 bad usage. */
#ifndef LP_COMMANDS_H
#define LP_COMMANDS_H

typedef struct lp_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} lp_command;

/* Runs lepton again, once, with a short OpenMP spin unless the user set one
 * (openmp_spin.c says why); returns only when it does not re-run. */
void lp_cli_shorten_openmp_spin(char **argv);

int lp_cmd_info(int argc, char **argv);
int lp_cmd_classify_image(int argc, char **argv);
int lp_cmd_tokenize(int argc, char **argv);
int lp_cmd_detokenize(int argc, char **argv);
int lp_cmd_classify(int argc, char **argv);
int lp_cmd_embed(int argc, char **argv);
int lp_cmd_translate(int argc, char **argv);
int lp_cmd_serve(int argc, char **argv);
int lp_cmd_bench(int argc, char **argv);

#endif
