#pragma once
/// \file thread_safe.hpp
/// kvforge::thread_safe: concurrent readers and writers on one store.

#include <string_view>

#include "../concepts.hpp"
#include "../detail/striped.hpp"

namespace kvforge {

/// Threading policy: readers share the lock and run in parallel; writers take it alone.
/// Readers on different cores touch different cache lines (see detail/striped.hpp),
/// so reads scale with the cores instead of queueing for one lock word.
struct thread_safe {
    using policy_kind = kvforge::policy_kind::threading;
    static constexpr std::string_view name = "thread_safe";
    static constexpr std::string_view short_name = "mt";  ///< also accepted in a store spec
    using mutex_type = detail::striped_shared_mutex;
    using counter_type = detail::striped_counter;
    static constexpr bool concurrent = true;
};

static_assert(threading_policy<thread_safe>);

}  // namespace kvforge
