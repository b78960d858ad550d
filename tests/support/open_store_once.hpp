#pragma once
// open_store<std::string, std::string> compiles every composition kvforge offers, which
// is most of the build time of a test source that calls it. The test sources that do
// share one instantiation, in open_store_once.cpp; an explicit instantiation
// declaration keeps each of them from compiling its own.

#include <kvforge/kvforge.hpp>

#include <string>

extern template kvforge::any_store<std::string, std::string>
kvforge::detail::open_any_store<std::string, std::string, kvforge::default_compositions>(
    std::string_view, const kvforge::options&, const kvforge::detail::codec_choice&, std::error_code&);
