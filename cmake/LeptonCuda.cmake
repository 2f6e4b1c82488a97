# The CUDA backend: a shared plugin (liblepton_cuda.so, opened at run time by
# kernels/backend_loader.c), its resource table, and the emulation tests that
# run the same kernels on the CPU (tests/cuda). Included at the end of the
# top-level CMakeLists.txt, after every other target exists.
#
#   -DLP_CUDA=OFF                 never build the plugin (also: no nvcc on PATH)
#   -DLP_CUDA_EMU_TESTS=OFF       no emulation tests
#   -DLP_CUDA_EMU_SANITIZE=thread build the emulation tests under ThreadSanitizer
#                         =address ... under AddressSanitizer + UBSan
#                                   (the Asan build type covers ASan already)
option(LP_CUDA "Build the CUDA backend plugin when nvcc is found" ON)
option(LP_CUDA_EMU_TESTS "Run the CUDA kernels on the CPU through tests/cuda/emu.h" ON)
set(LP_CUDA_EMU_SANITIZE "" CACHE STRING "Sanitizer for the emulation tests: thread, address or empty")

# the loader in lp_kernels uses dlopen
target_link_libraries(lp_kernels PUBLIC ${CMAKE_DL_LIBS})

set(LP_CUDA_DIR ${PROJECT_SOURCE_DIR}/kernels/cuda)
file(GLOB LP_CUDA_KERNEL_SOURCES CONFIGURE_DEPENDS ${LP_CUDA_DIR}/*.cu)
# host code shared by the plugin and the emulated build, and plugin-only host code
file(GLOB LP_CUDA_HOST_SOURCES CONFIGURE_DEPENDS ${LP_CUDA_DIR}/*.c)
file(GLOB LP_CUDA_GPU_SOURCES CONFIGURE_DEPENDS ${LP_CUDA_DIR}/gpu_*.c)
list(REMOVE_ITEM LP_CUDA_HOST_SOURCES ${LP_CUDA_GPU_SOURCES})
# the plugin carries its own copies of the runtime pieces it uses, so it needs
# nothing exported from the executable
set(LP_CUDA_RUNTIME_COPIES ${PROJECT_SOURCE_DIR}/kernels/status.c
    ${PROJECT_SOURCE_DIR}/kernels/dtype.c ${PROJECT_SOURCE_DIR}/kernels/tensor.c)

if(LP_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
endif()

set(LP_HAVE_CUDA_PLUGIN OFF)
if(LP_CUDA AND CMAKE_CUDA_COMPILER AND NOT LP_CUDA_EMU_SANITIZE)
  # the real architectures are passed below as -gencode; never "native"
  # (without a GPU it silently picks an old default)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  find_library(LP_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
  find_path(LP_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  if(NOT TARGET CUDA::cublasLt OR NOT LP_CUDNN_LIBRARY OR NOT LP_CUDNN_INCLUDE)
    message(FATAL_ERROR "lepton: nvcc found but cuBLASLt or cuDNN 9 is missing; install them "
                        "or configure with -DLP_CUDA=OFF")
  endif()
  # objects first (the host-only descriptor test links them too), then the plugin
  add_library(lepton_cuda_objs OBJECT ${LP_CUDA_KERNEL_SOURCES} ${LP_CUDA_HOST_SOURCES}
              ${LP_CUDA_GPU_SOURCES} ${LP_CUDA_RUNTIME_COPIES})
  set_target_properties(lepton_cuda_objs PROPERTIES
    CUDA_ARCHITECTURES OFF
    POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden
    CUDA_VISIBILITY_PRESET hidden)
  # the directory-wide options (-Wall -Werror -pthread) are gcc spellings;
  # replace them per language: nvcc gets its own, with ptxas spills and local
  # memory as errors
  set_property(TARGET lepton_cuda_objs PROPERTY COMPILE_OPTIONS "")
  target_compile_options(lepton_cuda_objs PRIVATE
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Werror -pthread>
    $<$<COMPILE_LANGUAGE:CUDA>:-std=c++17 -gencode=arch=compute_80,code=sm_80
      -gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_90,code=compute_90
      -Werror=all-warnings -Xptxas=-warn-spills,-warn-lmem-usage,-Werror
      -Xcompiler=-Wall,-Wextra,-Werror -lineinfo>)
  target_include_directories(lepton_cuda_objs PRIVATE ${CUDAToolkit_INCLUDE_DIRS} ${LP_CUDNN_INCLUDE})
  add_library(lepton_cuda SHARED $<TARGET_OBJECTS:lepton_cuda_objs>)
  set_target_properties(lepton_cuda PROPERTIES LINKER_LANGUAGE CUDA
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)
  set(LP_CUDA_PLUGIN_LIBS CUDA::cudart CUDA::cublasLt ${LP_CUDNN_LIBRARY} Threads::Threads ${LP_LIBM})
  target_link_libraries(lepton_cuda PRIVATE ${LP_CUDA_PLUGIN_LIBS})
  set(LP_HAVE_CUDA_PLUGIN ON)

  # the resource table: registers, shared memory, spills, local memory per
  # kernel and architecture, from ptxas's report captured at compile time
  # (a compiler launcher; the toolkit may lack cuobjdump). The script fails
  # the build on any spill or local memory too (belt and braces with ptxas).
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_FOUND)
    set(LP_CUDA_PTXAS_LOGS ${PROJECT_BINARY_DIR}/cuda_ptxas_logs)
    set_target_properties(lepton_cuda_objs PROPERTIES CUDA_COMPILER_LAUNCHER
      "${Python3_EXECUTABLE};${PROJECT_SOURCE_DIR}/tools/cuda_resource_table.py;capture;${LP_CUDA_PTXAS_LOGS};--")
    add_custom_command(TARGET lepton_cuda POST_BUILD
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/cuda_resource_table.py
              table ${LP_CUDA_PTXAS_LOGS} --out ${PROJECT_BINARY_DIR}/cuda_resources.md
      COMMENT "CUDA resource table -> cuda_resources.md"
      VERBATIM)
  endif()
  message(STATUS "lepton: CUDA backend plugin ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, sm_80 + sm_90)")
else()
  message(STATUS "lepton: CUDA backend plugin OFF (no nvcc, -DLP_CUDA=OFF, or a sanitizer emu build)")
endif()

if(EXISTS ${PROJECT_SOURCE_DIR}/tests/cuda/CMakeLists.txt)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tests/cuda ${PROJECT_BINARY_DIR}/tests/cuda)
endif()
