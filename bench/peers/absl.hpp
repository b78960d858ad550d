// absl::flat_hash_map<std::string, std::string> as a benchmark engine (kvbench engine contract,
// see bench/engine.hpp): the in-memory reference. The map is used as it comes (default hash,
// default growth, no reserve); the directory and the durability mode are ignored, flush() and
// compact() do nothing, and scan() visits the records in the map's own order.
#pragma once

#include "../engine.hpp"

#include <absl/base/config.h>
#include <absl/container/flat_hash_map.h>
#include <absl/strings/string_view.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace kvbench {

class absl_engine {
public:
    static constexpr std::string_view name = "absl_flat_hash_map";
    static constexpr bool ordered = false;
    static constexpr bool concurrent = false;
    static constexpr std::string_view settings = "defaults; memory only, no persistence";

    explicit absl_engine(const engine_config&) {}

    void put(std::string_view key, std::string_view value) { map_.insert_or_assign(lookup(key), value); }

    bool get(std::string_view key, std::string& value) {
        const auto it = map_.find(lookup(key));
        if (it == map_.end()) return false;
        value = it->second;
        return true;
    }

    /// Calls fn with a view of the stored value, copying nothing; false when missing.
    template <class Fn>
    bool visit(std::string_view key, Fn&& fn) {
        const auto it = map_.find(lookup(key));
        if (it == map_.end()) return false;
        fn(std::string_view(it->second));
        return true;
    }

    void write_batch(std::span<const std::pair<std::string, std::string>> puts) {
        for (const auto& [key, value] : puts) map_.insert_or_assign(key, value);
    }

    template <class Visit>
    std::size_t scan(Visit&& visit) {
        for (const auto& [key, value] : map_) visit(std::string_view(key), std::string_view(value));
        return map_.size();
    }

    void flush() {}
    void compact() {}

    static std::string version() {
        return std::to_string(ABSL_LTS_RELEASE_VERSION) + "." + std::to_string(ABSL_LTS_RELEASE_PATCH_LEVEL);
    }

private:
    /// The map's string hash takes absl::string_view, so keys are looked up without a copy.
    /// (Builds of absl may make absl::string_view its own class rather than std::string_view.)
    static absl::string_view lookup(std::string_view key) { return {key.data(), key.size()}; }

    absl::flat_hash_map<std::string, std::string> map_;
};

}  // namespace kvbench
