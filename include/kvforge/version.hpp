#pragma once
/// \file version.hpp
/// The library version, kept equal to the version in CMakeLists.txt and meson.build.

#define KVFORGE_VERSION_MAJOR 0
#define KVFORGE_VERSION_MINOR 1
#define KVFORGE_VERSION_PATCH 0

/// The version as one number: major * 10000 + minor * 100 + patch.
#define KVFORGE_VERSION (KVFORGE_VERSION_MAJOR * 10000 + KVFORGE_VERSION_MINOR * 100 + KVFORGE_VERSION_PATCH)
