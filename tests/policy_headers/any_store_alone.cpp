// A file that uses a store opened in another file needs <kvforge/any_store.hpp> alone, and
// that header stays light: it declares none of the typed stores, the spec parser or the
// types only some calls use, so a file using any_store compiles little beyond the
// standard headers it includes anyway (tools/include_cost.sh, row (l)).
#include <kvforge/any_store.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

// Each of these would be a redeclaration of a different kind, an error, had any_store.hpp
// brought the header that defines the name.
namespace kvforge {
struct store {};                 // store.hpp
struct open_store {};            // open_store.hpp
struct options {};               // options.hpp
struct default_compositions {};  // compositions.hpp
struct file_log {};              // stores/file_log.hpp
}  // namespace kvforge

// The standard headers that cost more to compile than the rest of any_store.hpp, by the
// include guards of libstdc++ (whose <string> and <vector> bring none of them; libc++'s
// <string> brings <memory>).
#if defined(_GLIBCXX_MEMORY) || defined(_GLIBCXX_SSTREAM) || defined(_GLIBCXX_CHRONO)
#error "any_store.hpp brings <memory>, <sstream> or <chrono>"
#endif

using users = kvforge::any_store<std::string, std::string>;

users open_users(const std::string& path);

std::vector<std::pair<std::string, std::string>> any_store_alone(const std::string& path) {
    users db = open_users(path);
    db.put("alice", "admin");
    const std::optional<std::string> role = db.get("alice");
    std::vector<std::pair<std::string, std::string>> records;
    for (const auto& [key, value] : db.scan_prefix("a")) records.emplace_back(key, value);
    db.close();
    if (role != "admin") records.clear();
    return records;
}
