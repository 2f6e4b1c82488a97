// emu.h -- CUDA kernels on the CPU, for lepton's tests (tests/cuda).
// Origin: the prototype in ../shared/reference/cuda-emu/emu.h (provided to the project for this
// purpose), copied here; lepton changes are marked "lepton:" below.
// emu.h -- run CUDA C++ kernels on the CPU, for tests only. Header-only, C++17, glibc, x86-64
// (other CPUs / sanitizer builds fall back to ucontext). Every CUDA thread of a block is a
// fiber (own stack); blocks run one after another on the calling OS thread. Warp ops / barriers are real rendezvous points, so code that relies on
// implicit warp-synchronous execution or a missing __syncthreads shows up as a wrong result
// (EMU_SCHED=fwd|rev|rand[,EMU_SEED=n]), a deadlock report, or a ThreadSanitizer race report.
// Build: g++ -std=c++17 -I$CUDA/include -include emu.h kernels.cu test.cpp
#pragma once
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
// static shared memory lives in one ELF section so it can be poisoned (0xFF = NaN) per block.
// NB: GCC silently ignores the section for statics in templates (COMDAT): use clang++ for that.
#define __shared__ static __attribute__((section("emu_smem"), aligned(16)))
#include <cuda_runtime.h>  // dim3/uint3/float4..., builtin-variable declarations (host part only)
#include <cuda_fp16.h>     // __half/__half2 host implementations (CUDA >= 12.2)
#include <cuda_bf16.h>
#include <ucontext.h>
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <type_traits>
#include <vector>
#if defined(__has_feature)  // clang < 18 does not define __SANITIZE_*__
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)  // each CUDA thread is a TSan fiber; barriers are release/acquire
#include <sanitizer/tsan_interface.h>
#define EMU_TSAN(x) x
#define EMU_FN inline __attribute__((no_sanitize_thread))  // emulator internals are not checked
#else
#define EMU_TSAN(x)
#define EMU_FN inline
#endif
// lepton: the fast switch under ThreadSanitizer too (TSan tracks fibers through
// __tsan_switch_to_fiber, not through the switch itself; the prototype's racy
// probe kernels are still reported, see tests/cuda/README). ASan keeps ucontext.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(EMU_UCONTEXT)
#define EMU_FAST 1  // 10x cheaper than swapcontext (no sigprocmask syscall); ASan needs ucontext
extern "C" void emu_swap(void** save_sp, void* to_sp);
__asm__(".text\n.weak emu_swap\n.type emu_swap,@function\nemu_swap:\n pushq %rbp\n pushq %rbx\n"
        " pushq %r12\n pushq %r13\n pushq %r14\n pushq %r15\n movq %rsp,(%rdi)\n movq %rsi,%rsp\n"
        " popq %r15\n popq %r14\n popq %r13\n popq %r12\n popq %rbx\n popq %rbp\n ret\n");
#endif
extern "C" char __start_emu_smem[] __attribute__((weak)), __stop_emu_smem[] __attribute__((weak));

namespace emu {
[[noreturn]] inline void fail(const char* fmt, ...) {
  va_list ap; va_start(ap, fmt); fputs("emu: ", stderr); vfprintf(stderr, fmt, ap); va_end(ap);
  fputc('\n', stderr); abort();
}
struct Fiber { ucontext_t ctx; void* sp; uint3 tid; unsigned lane, warp; bool done; void* ts; };
struct Warp { unsigned valid, arrived, expect, gen; uint64_t slot[32]; char sync[2]; };
struct Block {
  std::vector<Fiber> f; std::vector<Warp> w; char* stacks; size_t ss; std::vector<unsigned char> dyn;
  ucontext_t sched; void* sched_sp; void* ts_sched = nullptr; unsigned n = 0, arrived = 0, gen = 0;
  unsigned long events = 0; char sync[2], exit_sync; const std::function<void()>* body = nullptr;
};
enum Sched { FWD, REV, RAND };
inline Sched sched_mode() {
  const char* s = getenv("EMU_SCHED");
  return !s ? FWD : !strcmp(s, "rev") ? REV : !strcmp(s, "rand") ? RAND : FWD;
}
inline thread_local Fiber* cur;
inline thread_local Block* blk;
inline thread_local uint3 t_bidx;
inline thread_local dim3 t_bdim, t_gdim;

EMU_FN void yield() {  // back to the scheduler; resumed later with cur == this fiber
  EMU_TSAN(__tsan_switch_to_fiber(blk->ts_sched, __tsan_switch_to_fiber_no_sync));
#ifdef EMU_FAST
  emu_swap(&cur->sp, blk->sched_sp);
#else
  swapcontext(&cur->ctx, &blk->sched);
#endif
}
EMU_FN void syncthreads() {
  Block& b = *blk; unsigned g = b.gen; b.events++;
  EMU_TSAN(__tsan_release(&b.sync[g & 1]));
  if (++b.arrived == b.n) { b.arrived = 0; b.gen++; yield(); }  // all resume in schedule order
  else while (b.gen == g) yield();
  EMU_TSAN(__tsan_acquire(&b.sync[g & 1]));
}
EMU_FN void warp_sync(unsigned mask) {  // rendezvous of exactly the lanes named in mask
  Block& b = *blk; Fiber& me = *cur; Warp& w = b.w[me.warp]; unsigned bit = 1u << me.lane;
  if (!(mask & bit)) fail("thread %u: warp op mask %#x excludes the calling lane", me.tid.x);
  if (mask & ~w.valid) fail("warp %u: mask %#x names lanes that do not exist (%#x)", me.warp, mask, w.valid);
  if (w.arrived == 0) w.expect = mask;
  else if (w.expect != mask) fail("warp %u: lanes use different masks %#x / %#x", me.warp, w.expect, mask);
  unsigned g = w.gen; b.events++;
  EMU_TSAN(__tsan_release(&w.sync[g & 1]));
  if ((w.arrived |= bit) == mask) { w.arrived = 0; w.gen++; }
  else while (w.gen == g) yield();
  EMU_TSAN(__tsan_acquire(&w.sync[g & 1]));
}
template <class T> EMU_FN T shfl(unsigned mask, T v, unsigned src) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shfl: type");
  Warp& w = blk->w[cur->warp]; unsigned lane = cur->lane;
  memcpy(&w.slot[lane], &v, sizeof(T));
  warp_sync(mask);
  T r = v;
  if (src != lane) {
    if (!((mask >> src) & 1)) fail("shfl: lane %u reads lane %u outside mask %#x", lane, src, mask);
    memcpy(&r, &w.slot[src], sizeof(T));
  }
  warp_sync(mask);  // nobody may overwrite a slot before everyone has read
  return r;
}
inline void* dyn_smem() { return blk->dyn.data(); }

EMU_FN void entry() {
  (*blk->body)();
  cur->done = true; blk->events++;
  EMU_TSAN(__tsan_release(&blk->exit_sync));
  yield();  // never resumed
}
#ifndef EMU_FAST
// lepton: getcontext "returns twice"; kept out of run_block's loop so GCC's
// -Wclobbered (an error under -Werror in lepton's Asan build) has nothing to say
__attribute__((noinline)) inline void make_context(Fiber& f, char* stack, size_t ss) {
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = stack; f.ctx.uc_stack.ss_size = ss; f.ctx.uc_link = nullptr;
  makecontext(&f.ctx, entry, 0);
}
#endif
EMU_FN void run_block(Block& b, Sched mode, std::mt19937& rng) {
  if (__start_emu_smem) memset(__start_emu_smem, 0xFF, __stop_emu_smem - __start_emu_smem);
  if (!b.dyn.empty()) memset(b.dyn.data(), 0xFF, b.dyn.size());
  b.arrived = b.gen = 0;
  for (Warp& w : b.w) w.arrived = w.gen = 0;
  size_t ss = b.ss;
  for (unsigned i = 0; i < b.n; ++i) {
    Fiber& f = b.f[i];
#ifdef EMU_FAST  // initial frame: 6 callee-saved regs, then 'return' into entry() with ABI alignment
    void** sp = (void**)(((uintptr_t)b.stacks + (i + 1) * ss) & ~(uintptr_t)15);
    *--sp = nullptr; *--sp = (void*)&entry;
    for (int r = 0; r < 6; ++r) *--sp = nullptr;
    f.sp = sp;
#else
    make_context(f, b.stacks + i * ss, ss);
#endif
    f.done = false;
  }
  std::vector<unsigned> order(b.n);
  std::iota(order.begin(), order.end(), 0u);
  if (mode == REV) std::reverse(order.begin(), order.end());
  for (;;) {
    if (mode == RAND) std::shuffle(order.begin(), order.end(), rng);
    unsigned long ev = b.events; bool live = false;
    for (unsigned i : order) {
      Fiber& f = b.f[i];
      if (f.done) continue;
      live = true; cur = &f;
      EMU_TSAN(__tsan_switch_to_fiber(f.ts, 0));  // host/scheduler writes happen-before
#ifdef EMU_FAST
      emu_swap(&b.sched_sp, f.sp);
#else
      swapcontext(&b.sched, &f.ctx);
#endif
    }
    if (!live) { EMU_TSAN(__tsan_acquire(&b.exit_sync)); return; }
    if (ev == b.events) {
      unsigned done = 0; for (Fiber& f : b.f) done += f.done;
      fail("deadlock in block (%u,%u,%u): %u threads exited, %u wait at __syncthreads, warp 0 "
           "arrived mask %#x (divergent barrier or warp op?)", t_bidx.x, t_bidx.y, t_bidx.z,
           done, b.arrived, b.w[0].arrived);
    }
  }
}
#if defined(__SANITIZE_THREAD__)
// lepton: TSan fibers are reused across launches (creating one costs far more
// than running a small kernel thread). Each resume from the scheduler
// synchronizes, so reuse adds no ordering that fresh fibers would not have.
inline void* tsan_fiber(unsigned i) {
  static thread_local std::vector<void*> pool;
  while (pool.size() <= i) pool.push_back(__tsan_create_fiber(0));
  return pool[i];
}
#endif
template <class... P, class... A>
void launch(void (*k)(P...), dim3 grid, dim3 block, size_t dyn_bytes, A&&... a) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel argument count");
  unsigned n = block.x * block.y * block.z;
  if (n == 0 || n > 1024 || block.z > 64 || grid.y > 65535 || grid.z > 65535)
    fail("invalid launch configuration grid(%u,%u,%u) block(%u,%u,%u)", grid.x, grid.y, grid.z, block.x, block.y, block.z);
  if (dyn_bytes > 227 * 1024) fail("dynamic shared memory %zu > 227 KiB", dyn_bytes);
  std::function<void()> body = [&] { k(a...); };
  static const char* st = getenv("EMU_STACK");
  size_t ss = st ? strtoul(st, nullptr, 0) : 64 * 1024;
  static thread_local std::unique_ptr<char[]> stk; static thread_local size_t stk_n = 0;  // reused
  if (stk_n < ss * n) stk.reset(new char[stk_n = ss * n]);
  Block b; b.n = n; b.f.resize(n); b.w.resize((n + 31) / 32); b.stacks = stk.get(); b.ss = ss;
  b.dyn.resize(dyn_bytes); b.body = &body;
  for (unsigned i = 0; i < n; ++i) {
    b.f[i].tid = make_uint3(i % block.x, i / block.x % block.y, i / (block.x * block.y));
    b.f[i].lane = i % 32; b.f[i].warp = i / 32;
    EMU_TSAN(b.f[i].ts = tsan_fiber(i));
  }
  for (unsigned k2 = 0; k2 < b.w.size(); ++k2) {
    unsigned m = std::min(32u, n - 32 * k2);
    b.w[k2].valid = m == 32 ? ~0u : (1u << m) - 1;
  }
  EMU_TSAN(b.ts_sched = __tsan_get_current_fiber());
  Block* saved = blk; blk = &b; t_bdim = block; t_gdim = grid;
  static const char* seed = getenv("EMU_SEED");
  std::mt19937 rng(seed ? atoi(seed) : 1);
  Sched mode = sched_mode();
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) { t_bidx = make_uint3(x, y, z); run_block(b, mode, rng); }
  blk = saved;
}
}  // namespace emu
#if defined(__SANITIZE_ADDRESS__)  // name the CUDA thread in ASan reports
#include <sanitizer/asan_interface.h>
namespace emu {
inline void asan_cb(const char*) {
  if (cur) fprintf(stderr, "emu: fault in blockIdx=(%u,%u,%u) threadIdx=(%u,%u,%u)\n", t_bidx.x, t_bidx.y,
                   t_bidx.z, cur->tid.x, cur->tid.y, cur->tid.z);
}
inline const int asan_cb_set = (__asan_set_error_report_callback(asan_cb), 0);
}  // namespace emu
#endif

#define threadIdx (emu::cur->tid)
#define blockIdx (emu::t_bidx)
#define blockDim (emu::t_bdim)
#define gridDim (emu::t_gdim)
#ifndef warpSize
#define warpSize 32
#endif
#define EMU_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(emu::dyn_smem())
#define EMU_LAUNCH(k, grid, block, smem, ...) emu::launch(k, dim3(grid), dim3(block), smem, __VA_ARGS__)
namespace emu {  // KLAUNCH((kern<T,16>), grid, block, smem, stream)(args...) == kern<<<...>>>(args...)
template <class K> struct Launcher {
  K k; dim3 g, b; size_t s;
  template <class... A> void operator()(A&&... a) const { launch(k, g, b, s, std::forward<A>(a)...); }
};
template <class K> Launcher<K> launcher(K k, dim3 g, dim3 b, size_t s) { return {k, g, b, s}; }
}  // namespace emu
#define KLAUNCH(k, grid, block, smem, stream) emu::launcher(k, dim3(grid), dim3(block), smem)

inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned m = 0xffffffffu) { emu::warp_sync(m); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline unsigned __activemask() { return emu::blk->w[emu::cur->warp].valid; }  // approximation
template <class T> T __shfl_sync(unsigned m, T v, int s, int w = 32) {
  unsigned l = emu::cur->lane; return emu::shfl(m, v, (l & ~(w - 1)) + (s & (w - 1)));
}
template <class T> T __shfl_xor_sync(unsigned m, T v, int x, int w = 32) {
  unsigned l = emu::cur->lane, s = l ^ x; return emu::shfl(m, v, s >= (l & ~(w - 1)) + w ? l : s);
}
template <class T> T __shfl_down_sync(unsigned m, T v, unsigned d, int w = 32) {
  unsigned l = emu::cur->lane, s = l + d; return emu::shfl(m, v, s >= (l & ~(w - 1)) + w ? l : s);
}
template <class T> T __shfl_up_sync(unsigned m, T v, unsigned d, int w = 32) {
  unsigned l = emu::cur->lane; return emu::shfl(m, v, (int)(l - d) < (int)(l & ~(w - 1)) ? l : l - d);
}
EMU_FN unsigned __ballot_sync(unsigned m, int p) {
  emu::Warp& w = emu::blk->w[emu::cur->warp];
  w.slot[emu::cur->lane] = p != 0;
  emu::warp_sync(m);
  unsigned r = 0;
  for (unsigned i = 0; i < 32; ++i) r |= ((m >> i) & 1) && w.slot[i] ? 1u << i : 0u;
  emu::warp_sync(m);
  return r;
}
inline int __any_sync(unsigned m, int p) { return __ballot_sync(m, p) != 0; }
inline int __all_sync(unsigned m, int p) { return __ballot_sync(m, p) == m; }
// atomics: fibers never preempt each other, but keep them real atomics anyway
inline float atomicAdd(float* a, float v) {
  float o, n;
  __atomic_load(a, &o, __ATOMIC_RELAXED);
  do n = o + v; while (!__atomic_compare_exchange(a, &o, &n, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  return o;
}
template <class T, class = std::enable_if_t<std::is_integral<T>::value>>
T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
template <class T> T atomicCAS(T* a, T c, T v) { __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return c; }
inline int atomicMax(int* a, int v) { int o = __atomic_load_n(a, __ATOMIC_RELAXED); while (o < v && !__atomic_compare_exchange_n(a, &o, v, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {} return o; }
// device math intrinsics (CPU results differ from the GPU by a few ulp: compare with tolerances)
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline float __saturatef(float x) { return x >= 1.f ? 1.f : x > 0.f ? x : 0.f; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
inline int __ffs(int x) { return __builtin_ffs(x); }
template <class T> T __ldg(const T* p) { return *p; }
template <class A, class B> auto min(A a, B b) { return a < b ? a : b; }
template <class A, class B> auto max(A a, B b) { return a < b ? b : a; }
// lepton: sinpi / cospi, which CUDA has on the device and glibc lacks (exact reduction first)
inline double sinpi(double x) { return sin(3.14159265358979323846 * remainder(x, 2.0)); }
inline double cospi(double x) { return cos(3.14159265358979323846 * remainder(x, 2.0)); }
inline __half __hfma(__half a, __half b, __half c) {  // double rounding possible in rare cases
  return __double2half((double)__half2float(a) * __half2float(b) + __half2float(c));
}
