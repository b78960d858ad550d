#pragma once
// Keys and values given on the command line, read in the text form of the store's codecs.

#include <string>
#include <string_view>

#include "text_form.hpp"

namespace kvforge_tool {

/// The bytes that text means in this form; throws usage_error naming `what` ("KEY") and
/// the form expected when it does not read.
[[nodiscard]] std::string read_argument(const text_form& form, std::string_view text, std::string_view what);

}  // namespace kvforge_tool
