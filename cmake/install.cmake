# Installs the headers, the kvforge::kvforge CMake package (with kvforge::zstd, kvforge::lz4 and kvforge::redis_cluster)
# and kvforge.pc, kvforge-zstd.pc, kvforge-lz4.pc, kvforge-redis.pc. The package
# files go under share/ because a header-only library is the same on every architecture.
# With KVFORGE_BUILD_COMPILED, also the compiled mode's library, its CMake targets
# (kvforge::compiled, which the package loads where it finds them) and kvforge-compiled.pc,
# under lib/: they are the architecture's own.
include(CMakePackageConfigHelpers)

set(kvforge_cmake_dir ${CMAKE_INSTALL_DATADIR}/cmake/kvforge)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS kvforge EXPORT kvforgeTargets)
install(EXPORT kvforgeTargets NAMESPACE kvforge:: DESTINATION ${kvforge_cmake_dir})

set(kvforge_compiled_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/kvforge)
if(KVFORGE_BUILD_COMPILED AND TARGET kvforge_compiled)
    install(TARGETS kvforge_compiled EXPORT kvforgeCompiledTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
    install(EXPORT kvforgeCompiledTargets NAMESPACE kvforge:: DESTINATION ${kvforge_compiled_cmake_dir})
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/kvforgeConfig.cmake.in
    ${PROJECT_BINARY_DIR}/kvforgeConfig.cmake INSTALL_DESTINATION ${kvforge_cmake_dir}
    PATH_VARS kvforge_compiled_cmake_dir)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kvforgeConfigVersion.cmake
    COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/kvforgeConfig.cmake ${PROJECT_BINARY_DIR}/kvforgeConfigVersion.cmake
    ${PROJECT_SOURCE_DIR}/cmake/kvforgeCompression.cmake ${PROJECT_SOURCE_DIR}/cmake/kvforgeRedis.cmake DESTINATION ${kvforge_cmake_dir})

if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(kvforge_pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
else()
    set(kvforge_pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# kvforge.pc finds the prefix from its own place, so it stays right under cmake --install --prefix,
# DESTDIR or a move of the installed tree.
file(RELATIVE_PATH kvforge_pc_to_prefix ${CMAKE_INSTALL_FULL_DATADIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
# kvforge-zstd.pc, kvforge-lz4.pc and kvforge-redis.pc add the codec libraries and hiredis to kvforge's flags (through
# pkg-config's Requires, so their own .pc files say where the libraries are).
foreach(pc kvforge kvforge-zstd kvforge-lz4 kvforge-redis)
    configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)
endforeach()
if(KVFORGE_BUILD_COMPILED AND TARGET kvforge_compiled)
    file(RELATIVE_PATH kvforge_pc_to_prefix ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
    if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
        set(kvforge_pc_libdir "${CMAKE_INSTALL_LIBDIR}")
    else()
        set(kvforge_pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
    endif()
    configure_file(${PROJECT_SOURCE_DIR}/cmake/kvforge-compiled.pc.in ${PROJECT_BINARY_DIR}/kvforge-compiled.pc @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/kvforge-compiled.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
