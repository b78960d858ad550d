# kvforge::zstd and kvforge::lz4: INTERFACE targets for the optional codec headers
# <kvforge/compression/zstd.hpp> and <kvforge/compression/lz4.hpp>. Each links kvforge::kvforge
# and its library, and is defined only when the library's header and file are found
# (Debian: libzstd-dev, liblz4-dev); KVFORGE_ZSTD_FOUND and KVFORGE_LZ4_FOUND say which.
#
# The build tree and the installed package both include this file, so a consumer finds the
# libraries on its own machine rather than where kvforge was built. Set KVFORGE_ZSTD_LIBRARY or
# KVFORGE_LZ4_LIBRARY (and the _INCLUDE_DIR) to choose other copies.

function(kvforge_codec_target name header library)
    string(TOUPPER ${name} upper)
    if(TARGET kvforge::${name})
        set(KVFORGE_${upper}_FOUND TRUE PARENT_SCOPE)
        return()
    endif()
    find_path(KVFORGE_${upper}_INCLUDE_DIR ${header})
    find_library(KVFORGE_${upper}_LIBRARY ${library})
    if(NOT KVFORGE_${upper}_INCLUDE_DIR OR NOT KVFORGE_${upper}_LIBRARY)
        set(KVFORGE_${upper}_FOUND FALSE PARENT_SCOPE)
        return()
    endif()
    # GLOBAL, so that a project that adds kvforge with add_subdirectory sees the target too.
    add_library(kvforge::${name} INTERFACE IMPORTED GLOBAL)
    set_target_properties(kvforge::${name} PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${KVFORGE_${upper}_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES "kvforge::kvforge;${KVFORGE_${upper}_LIBRARY}")
    set(KVFORGE_${upper}_FOUND TRUE PARENT_SCOPE)
endfunction()

kvforge_codec_target(zstd zstd.h zstd)
kvforge_codec_target(lz4 lz4.h lz4)
