/* Op fixtures made by PyTorch (tools/make_*_fixtures.py): a safetensors file in
 * tests/fixtures/ops/ whose case N is the tensors "case<N>.<name>" plus a JSON
 * string "case<N>" in __metadata__ holding the op's parameters. */
#ifndef LP_TEST_OP_FIXTURE_H
#define LP_TEST_OP_FIXTURE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "kernels/tensor.h"
#include "pretrained/safetensors.h"

typedef struct fixture {
    lp_safetensors *st;
    const char *file;
    cJSON *params; /* of the current case */
    int index;
} fixture;

/* Opens tests/fixtures/ops/<file>; a failure is a failed check. */
bool fixture_open(fixture *fx, const char *file);
/* Moves to the next case; false after the last. */
bool fixture_next(fixture *fx);
void fixture_close(fixture *fx);
/* The current case's tensor; with `optional`, a tensor with NULL data when
 * absent (otherwise absence fails the test). */
lp_tensor fixture_get(fixture *fx, const char *name, bool optional);

/* Parameters of the current case; absent ones read as "" and false. */
const char *fixture_param_str(const fixture *fx, const char *key);
bool fixture_param_bool(const fixture *fx, const char *key);

#endif
