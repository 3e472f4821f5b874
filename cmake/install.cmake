# cmake --install: headers, libw4a8.a and libw4a8.so (versioned SONAME), the
# command line tool, a CMake package (find_package(w4a8 CONFIG) gives
# w4a8::w4a8 and w4a8::w4a8_shared) and w4a8.pc for pkg-config. Not for the
# Python package (pip install .), which installs only its own folder.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS w4a8 w4a8_shared EXPORT w4a8Targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/w4a8 DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/generated/w4a8/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/w4a8)
if(TARGET w4a8_cli)
  install(TARGETS w4a8_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/w4a8)
install(EXPORT w4a8Targets NAMESPACE w4a8:: DESTINATION ${_cmake_dir})
configure_package_config_file(cmake/w4a8Config.cmake.in ${CMAKE_BINARY_DIR}/w4a8Config.cmake
                              INSTALL_DESTINATION ${_cmake_dir})
# 0.x: a newer minor version may break the API, so only the same minor matches.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/w4a8ConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/w4a8Config.cmake ${CMAKE_BINARY_DIR}/w4a8ConfigVersion.cmake DESTINATION ${_cmake_dir})

# pkg-config: relocatable (the prefix found from the .pc file's own place, so
# `cmake --install --prefix DIR` works); the static library's own dependencies
# go to Libs.private.
file(RELATIVE_PATH W4A8_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
set(W4A8_PC_LIBS_PRIVATE "-pthread")
if(W4A8_CUDA)
  string(APPEND W4A8_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcudart")
endif()
configure_file(cmake/w4a8.pc.in ${CMAKE_BINARY_DIR}/w4a8.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/w4a8.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
