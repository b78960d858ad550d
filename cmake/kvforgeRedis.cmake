# kvforge::redis_cluster: an INTERFACE target for the optional header
# <kvforge/stores/redis_cluster.hpp>. It links kvforge::kvforge and hiredis, found through
# pkg-config (Debian: libhiredis-dev), and is defined only where hiredis is found;
# KVFORGE_REDIS_FOUND says whether it was.
#
# The build tree and the installed package both include this file, so a consumer finds hiredis
# on its own machine rather than where kvforge was built.

if(TARGET kvforge::redis_cluster)
    set(KVFORGE_REDIS_FOUND TRUE)
    return()
endif()
set(KVFORGE_REDIS_FOUND FALSE)
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
    pkg_check_modules(KVFORGE_HIREDIS QUIET IMPORTED_TARGET GLOBAL hiredis)
endif()
if(KVFORGE_HIREDIS_FOUND)
    # GLOBAL, so that a project that adds kvforge with add_subdirectory sees the target too.
    add_library(kvforge::redis_cluster INTERFACE IMPORTED GLOBAL)
    set_target_properties(kvforge::redis_cluster PROPERTIES
        INTERFACE_LINK_LIBRARIES "kvforge::kvforge;PkgConfig::KVFORGE_HIREDIS")
    set(KVFORGE_REDIS_FOUND TRUE)
endif()
