# The SGEMM library behind the CPU fast paths (kernels/cpu/gemm.c).
#
#   LP_GEMM=dnnl      oneDNN (default): dnnl_sgemm plus the matmul primitive,
#                     whose fused bias + activation epilogue lp_linear uses.
#   LP_GEMM=openblas  OpenBLAS cblas_sgemm; epilogues run in lepton's loops.
#
# Why oneDNN: measured on the development machine (2 cores, AVX-512), see
# benchmarks/README.md "bench_gemm".
#
# Sets LP_GEMM_LIBS (linked by lp_kernels), LP_GEMM_NAME, and the compile
# definition LP_GEMM_DNNL or LP_GEMM_OPENBLAS.
set(LP_GEMM "dnnl" CACHE STRING "SGEMM library for the CPU fast paths: dnnl or openblas")
set_property(CACHE LP_GEMM PROPERTY STRINGS dnnl openblas)

if(LP_GEMM STREQUAL "dnnl")
  find_path(LP_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
  find_library(LP_DNNL_LIBRARY NAMES dnnl)
  if(NOT LP_DNNL_INCLUDE_DIR OR NOT LP_DNNL_LIBRARY)
    message(FATAL_ERROR "oneDNN not found (install libdnnl-dev, or configure with -DLP_GEMM=openblas)")
  endif()
  # Debian's oneDNN runs its threads on OpenMP (libgomp); lepton sets the team size
  # per call with omp_set_num_threads, so it links libgomp itself. The compiler
  # driver knows where its own libgomp lives, hence the plain name.
  set(LP_GEMM_LIBS ${LP_DNNL_LIBRARY} gomp)
  include_directories(SYSTEM ${LP_DNNL_INCLUDE_DIR})
  add_compile_definitions(LP_GEMM_DNNL=1)
  set(LP_GEMM_NAME "oneDNN")
elseif(LP_GEMM STREQUAL "openblas")
  pkg_check_modules(LP_OPENBLAS REQUIRED openblas)
  set(LP_GEMM_LIBS ${LP_OPENBLAS_LINK_LIBRARIES})
  include_directories(SYSTEM ${LP_OPENBLAS_INCLUDE_DIRS})
  add_compile_definitions(LP_GEMM_OPENBLAS=1)
  set(LP_GEMM_NAME "OpenBLAS")
else()
  message(FATAL_ERROR "LP_GEMM must be dnnl or openblas, not '${LP_GEMM}'")
endif()
message(STATUS "lepton GEMM library: ${LP_GEMM_NAME}")
