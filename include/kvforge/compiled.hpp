#pragma once
/// \file compiled.hpp
/// kvforge's compiled mode: what the library kvforge::compiled holds compiled, declared
/// here as explicit instantiations. kvforge.hpp includes this header when
/// KVFORGE_COMPILED_LIB is defined (linking kvforge::compiled defines it), so that a
/// program compiles only its own code for these, and links the library's:
///
///   - open_store<std::string, std::string> over the default compositions, which
///     compiles every store kvforge has (a store chosen at run time needs them all);
///   - any_store<std::string, std::string>;
///   - the common store types below.
///
/// Anything else (other key and value types, other store types, an open_store narrowed
/// to a composition_list) compiles in the program as it does in header-only mode. The
/// library's sources (src/) define KVFORGE_INSTANTIATE_OPEN_STORE or
/// KVFORGE_INSTANTIATE_STORES before including this header, which turns these
/// declarations into the definitions; src/compositions_N.cpp each define one unit of
/// open_store's compositions (runtime/composition_openers.hpp).

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "any_store.hpp"
#include "compositions.hpp"
#include "index/sorted_index.hpp"
#include "open_store.hpp"
#include "options.hpp"
#include "runtime/composition_openers.hpp"
#include "store.hpp"
#include "stores/file_log.hpp"
#include "stores/memory.hpp"
#include "stores/mmap_file.hpp"
#include "threading/thread_safe.hpp"

#ifdef KVFORGE_INSTANTIATE_OPEN_STORE
#define KVFORGE_OPEN_STORE_INSTANTIATION template
#else
#define KVFORGE_OPEN_STORE_INSTANTIATION extern template
#endif
#ifdef KVFORGE_INSTANTIATE_STORES
#define KVFORGE_STORE_INSTANTIATION template
#else
#define KVFORGE_STORE_INSTANTIATION extern template
#endif

namespace kvforge {

namespace detail {
KVFORGE_OPEN_STORE_INSTANTIATION any_store<std::string, std::string>
open_any_store<std::string, std::string, default_compositions>(std::string_view, const options&, const codec_choice&,
                                                               std::error_code&);

// The compositions themselves, in units that the library's sources compile one each
// (src/compositions_0.cpp onwards), so that its build uses as many cores as it has.
static_assert(composition_units<default_compositions> == 4, "one src/compositions_N.cpp per unit");
extern template struct composition_openers<std::string, std::string, default_compositions, 0>;
extern template struct composition_openers<std::string, std::string, default_compositions, 1>;
extern template struct composition_openers<std::string, std::string, default_compositions, 2>;
extern template struct composition_openers<std::string, std::string, default_compositions, 3>;
}  // namespace detail

KVFORGE_OPEN_STORE_INSTANTIATION class any_store<std::string, std::string>;

// The engines of the store types below, first: a store's members are defined in its
// class, so inline, and an optimising compiler instantiates those of an extern template
// to inline them, and with them every engine member they call, unless the engine is
// declared compiled too.
KVFORGE_STORE_INSTANTIATION class detail::memory_backend<detail::resolved_policies<>>;
KVFORGE_STORE_INSTANTIATION class detail::log_backend<detail::resolved_policies<file_log>>;
KVFORGE_STORE_INSTANTIATION class detail::log_backend<detail::resolved_policies<file_log, sorted_index>>;
KVFORGE_STORE_INSTANTIATION class detail::log_backend<detail::resolved_policies<file_log, thread_safe>>;
KVFORGE_STORE_INSTANTIATION class detail::log_backend<detail::resolved_policies<mmap_file>, true>;

KVFORGE_STORE_INSTANTIATION class store<std::string, std::string>;
KVFORGE_STORE_INSTANTIATION class store<std::string, std::string, file_log>;
KVFORGE_STORE_INSTANTIATION class store<std::string, std::string, file_log, sorted_index>;
KVFORGE_STORE_INSTANTIATION class store<std::string, std::string, file_log, thread_safe>;
KVFORGE_STORE_INSTANTIATION class store<std::string, std::string, mmap_file>;

namespace detail {
/// Whether Engine is the one Store holds: an engine declared above that is not its
/// store's would leave the store's engine to compile in the program after all.
template <class Store, class Engine>
inline constexpr bool holds_engine =
    std::is_same_v<std::remove_cvref_t<decltype(store_access::backend(std::declval<const Store&>()))>, Engine>;

static_assert(holds_engine<store<std::string, std::string>, memory_backend<resolved_policies<>>>);
static_assert(holds_engine<store<std::string, std::string, file_log>, log_backend<resolved_policies<file_log>>>);
static_assert(holds_engine<store<std::string, std::string, file_log, sorted_index>,
                           log_backend<resolved_policies<file_log, sorted_index>>>);
static_assert(holds_engine<store<std::string, std::string, file_log, thread_safe>,
                           log_backend<resolved_policies<file_log, thread_safe>>>);
static_assert(
    holds_engine<store<std::string, std::string, mmap_file>, log_backend<resolved_policies<mmap_file>, true>>);
}  // namespace detail

}  // namespace kvforge

#undef KVFORGE_OPEN_STORE_INSTANTIATION
#undef KVFORGE_STORE_INSTANTIATION
