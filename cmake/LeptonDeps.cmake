# System libraries, all from Debian packages installed by scripts/install-deps.sh.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
# HTTP server (evhttp) and the load generator; the pthreads part lets worker
# threads wake the event loop.
pkg_check_modules(LIBEVENT REQUIRED IMPORTED_TARGET libevent_core libevent_extra libevent_pthreads)

# Math library for expf/erff/...
find_library(LP_LIBM m REQUIRED)

# The SGEMM library for the CPU fast paths (sets LP_GEMM_LIBS).
include(LeptonGemm)

# Adds an executable test per tests/<room>/test_*.c; each links `libs`.
function(lp_add_room_tests room)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_*.c)
  foreach(src ${sources})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${room}_${name} ${src})
    target_link_libraries(${room}_${name} PRIVATE ${ARG_LIBS} lp_test_util)
    add_test(NAME ${room}.${name} COMMAND ${room}_${name}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${room}.${name} PROPERTIES
      ENVIRONMENT "LP_SOURCE_DIR=${PROJECT_SOURCE_DIR};LP_BUILD_DIR=${PROJECT_BINARY_DIR}"
      TIMEOUT 600)
  endforeach()
endfunction()
