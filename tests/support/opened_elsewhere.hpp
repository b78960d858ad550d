#pragma once
// A store opened in another file: what a file that uses stores through
// <kvforge/any_store.hpp> alone declares, and one file of the program defines
// (open_store_once.cpp) with <kvforge/open_store.hpp>.

#include <kvforge/any_store.hpp>

#include <string>
#include <string_view>

namespace kvforge_test {

/// kvforge::open_store<std::string, std::string>(spec).
kvforge::any_store<std::string, std::string> open_elsewhere(std::string_view spec);

}  // namespace kvforge_test
