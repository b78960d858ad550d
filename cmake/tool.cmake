# The kvforge command-line tool (tools/kvforge/), built as bin/kvforge in the build
# directory and installed to the prefix's bin/ with the headers when it was built: a
# header-only library installs from a tree that was configured and never built.
# The tool opens stores of every codec kvforge has, so it links libzstd and liblz4; without
# them it is not built.
if(NOT TARGET kvforge::zstd OR NOT TARGET kvforge::lz4)
    message(WARNING "kvforge: the kvforge tool needs libzstd and liblz4 (it opens compressed stores); it is not built")
    return()
endif()
file(GLOB kvforge_tool_sources CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/tools/kvforge/*.cpp
    ${PROJECT_SOURCE_DIR}/tools/kvforge/commands/*.cpp
    ${PROJECT_SOURCE_DIR}/tools/kvforge/compositions/*.cpp)
add_executable(kvforge_tool ${kvforge_tool_sources})
target_link_libraries(kvforge_tool PRIVATE kvforge::kvforge kvforge::zstd kvforge::lz4 kvforge_project_options)
# With hiredis, the tool opens stores in a Redis Cluster too (cluster_store.cpp).
if(TARGET kvforge::redis_cluster)
    target_link_libraries(kvforge_tool PRIVATE kvforge::redis_cluster)
    set_source_files_properties(${PROJECT_SOURCE_DIR}/tools/kvforge/cluster_store.cpp PROPERTIES
        COMPILE_DEFINITIONS KVFORGE_TOOL_CLUSTER=1)
endif()
set_target_properties(kvforge_tool PROPERTIES OUTPUT_NAME kvforge RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)

if(KVFORGE_INSTALL)
    install(TARGETS kvforge_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} OPTIONAL)
endif()
