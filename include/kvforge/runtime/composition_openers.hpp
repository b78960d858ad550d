#pragma once
/// \file composition_openers.hpp
/// How open_store reaches the code of the composition it chose: the compositions of a list
/// in units of composition_openers_per_unit, each unit one class whose one function is
/// defined outside it. Compiling a composition is most of what open_store costs, so a
/// program that opens many can compile the units in translation units of their own, in
/// parallel, by declaring each unit in the others:
///
///     // in a header that every source includes:
///     extern template struct kvforge::detail::composition_openers<std::string, std::string, my_list, 0>;
///     // one per unit, up to composition_units<my_list>; and in the unit's own source:
///     template struct kvforge::detail::composition_openers<std::string, std::string, my_list, 0>;
///
/// kvforge::compiled builds default_compositions that way (compiled.hpp). A program that
/// declares nothing compiles every unit where it calls open_store, as before.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include "../compositions.hpp"
#include "../options.hpp"
#include "erased_store.hpp"

namespace kvforge::detail {

template <class Pack>
struct composition_traits;

/// Compositions per unit: about what one core compiles in a minute at -O2.
inline constexpr std::size_t composition_openers_per_unit = 8;

/// The number of units List's compositions make.
template <class List>
inline constexpr std::size_t composition_units = 0;
template <class... Packs>
inline constexpr std::size_t composition_units<composition_list<Packs...>> =
    (sizeof...(Packs) + composition_openers_per_unit - 1) / composition_openers_per_unit;

/// Opens one composition behind the erased calls.
template <class Key, class Value>
using composition_opener = std::unique_ptr<erased_store<Key, Value>> (*)(erased_description, std::string_view,
                                                                        const options&, const codec_choice&,
                                                                        std::error_code&);

/// The openers of unit Unit of List: entries Unit * composition_openers_per_unit onwards.
template <class Key, class Value, class List, std::size_t Unit>
struct composition_openers;
template <class Key, class Value, class... Packs, std::size_t Unit>
struct composition_openers<Key, Value, composition_list<Packs...>, Unit> {
    /// The opener of the unit's entry at offset. Defined out of the class, so that an
    /// explicit instantiation declaration of the unit keeps its compositions out of a
    /// translation unit (a function defined in the class would be inline, and compiled).
    static composition_opener<Key, Value> at(std::size_t offset);
};

template <class Key, class Value, class... Packs, std::size_t Unit>
composition_opener<Key, Value> composition_openers<Key, Value, composition_list<Packs...>, Unit>::at(
    std::size_t offset) {
    constexpr std::size_t first = Unit * composition_openers_per_unit;
    constexpr std::size_t count = std::min(composition_openers_per_unit, sizeof...(Packs) - first);
    return [offset]<std::size_t... I>(std::index_sequence<I...>) {
        static constexpr composition_opener<Key, Value> openers[] = {
            &composition_traits<std::tuple_element_t<first + I, std::tuple<Packs...>>>::template open<Key, Value>...};
        return openers[offset];
    }(std::make_index_sequence<count>{});
}

/// The opener of List's entry at index, from the unit that holds it.
template <class Key, class Value, class List>
composition_opener<Key, Value> composition_opener_at(std::size_t index) {
    return [index]<std::size_t... U>(std::index_sequence<U...>) {
        using unit_at = composition_opener<Key, Value> (*)(std::size_t);
        static constexpr unit_at units[] = {&composition_openers<Key, Value, List, U>::at...};
        return units[index / composition_openers_per_unit](index % composition_openers_per_unit);
    }(std::make_index_sequence<composition_units<List>>{});
}

}  // namespace kvforge::detail
