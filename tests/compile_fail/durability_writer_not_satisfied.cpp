// expect: does not satisfy the concept kvforge::durability_writer
#include <kvforge/kvforge.hpp>

// A durability policy whose writer lacks nearly everything a log store calls.
struct half_written {
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "half_written";
    template <class IO, bool Concurrent>
    struct writer {
        static constexpr bool sequenced = false;
    };
};

kvforge::store<std::string, std::string, kvforge::file_log, half_written> db("db");
