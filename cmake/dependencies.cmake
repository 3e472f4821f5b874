# Third-party packages, from Debian's packages (scripts/install-deps).
#
# The GPU machine has no package manager: scripts/device-check carries the
# header-only libraries and GoogleTest's sources from this machine in .deps/
# (W4A8_DEPS_DIR), and the fp32 CPU baseline (OpenBLAS) is then left out.
set(W4A8_DEPS_DIR "" CACHE PATH "Folder with include/ (CLI11, fmt, nlohmann) and googletest/ sources")

if(W4A8_DEPS_DIR)
  add_library(w4a8_dep_headers INTERFACE)
  target_include_directories(w4a8_dep_headers SYSTEM INTERFACE ${W4A8_DEPS_DIR}/include)
  target_compile_definitions(w4a8_dep_headers INTERFACE FMT_HEADER_ONLY=1)
  add_library(CLI11::CLI11 ALIAS w4a8_dep_headers)
  add_library(fmt::fmt ALIAS w4a8_dep_headers)
  add_library(nlohmann_json::nlohmann_json ALIAS w4a8_dep_headers)
  if(W4A8_BUILD_TESTS)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory(${W4A8_DEPS_DIR}/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
    # googletest's own CMake already defines GTest::gtest and GTest::gtest_main.
    if(NOT TARGET GTest::gtest)
      add_library(GTest::gtest ALIAS gtest)
      add_library(GTest::gtest_main ALIAS gtest_main)
    endif()
  endif()
else()
  if(W4A8_BUILD_TOOLS OR W4A8_BUILD_TESTS)
    find_package(CLI11 CONFIG REQUIRED)
    find_package(fmt REQUIRED)
  endif()
  find_package(nlohmann_json REQUIRED)
  if(W4A8_BUILD_TESTS)
    find_package(GTest REQUIRED)
  endif()
endif()

find_package(BLAS)
find_path(CBLAS_INCLUDE_DIR cblas.h)
if(BLAS_FOUND AND CBLAS_INCLUDE_DIR)
  set(W4A8_HAVE_BLAS ON)
else()
  set(W4A8_HAVE_BLAS OFF)
  message(STATUS "w4a8: no BLAS found - bench and demo run without the fp32 CPU baseline")
endif()

# oneDNN's int8 matmul: the int8 CPU baseline of bench (tool only, never the
# library). Found by hand: Debian's dnnl-config.cmake insists on OpenCL
# (its GPU runtime), which the CPU matmul never touches. It threads with OpenMP.
find_library(DNNL_LIBRARY dnnl)
find_path(DNNL_INCLUDE_DIR dnnl.hpp)
find_package(OpenMP QUIET)
if(DNNL_LIBRARY AND DNNL_INCLUDE_DIR AND OpenMP_CXX_FOUND)
  set(W4A8_HAVE_DNNL ON)
  add_library(w4a8_dnnl INTERFACE)
  target_include_directories(w4a8_dnnl SYSTEM INTERFACE ${DNNL_INCLUDE_DIR})
  target_link_libraries(w4a8_dnnl INTERFACE ${DNNL_LIBRARY} OpenMP::OpenMP_CXX)
else()
  set(W4A8_HAVE_DNNL OFF)
  message(STATUS "w4a8: no oneDNN found - bench runs without the int8 CPU baseline")
endif()
