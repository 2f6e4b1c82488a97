/* Guarded device memory for the emulated runtime (tests/cuda/emu_runtime.c):
 * in the emulated build device memory is host memory, so host code that
 * reads or writes a device pointer would go unnoticed. Once guarding is on,
 * every emulated cudaMalloc is its own mapping, kept PROT_NONE except while a
 * guarded section is open: a test opens one around each backend call (op,
 * copy, weight upload), so any other touch of device memory by host code is
 * a SIGSEGV at the faulting line. Not thread-safe against concurrent opens
 * (the tests using it are single-threaded). */
#ifndef LP_TESTS_CUDA_EMU_GUARD_H
#define LP_TESTS_CUDA_EMU_GUARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* From now on device allocations are guarded (earlier ones are not). */
void lp_emu_guard_enable(void);
/* Nested: the first open makes guarded memory readable and writable, the
 * last close takes that away again. */
void lp_emu_guard_open(void);
void lp_emu_guard_close(void);
/* Guarded regions alive now (a test can check that guarding is in effect). */
size_t lp_emu_guard_regions(void);

#ifdef __cplusplus
}
#endif

#endif
