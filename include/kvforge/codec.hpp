#pragma once
/// \file codec.hpp
/// How keys and values become bytes: kvforge::codec<T> and the built-in codecs.
///
/// Stores keep and compare encoded bytes; a sorted index orders keys by memcmp of
/// their encodings. The built-in codecs are chosen so that this order is the
/// natural one: integers and floating-point numbers are stored big-endian with the
/// sign handled, so they sort numerically.
///
/// To store another type, specialise kvforge::codec for it:
///
///     template <> struct kvforge::codec<point> {
///         static std::string name() { return "point.v1"; }  // identifies the encoding in files
///         static std::string_view encode(const point& p, std::string& scratch);  // bytes of p
///         static bool decode(std::string_view bytes, point& out);  // false when bytes are malformed
///     };
///
/// encode may return a view of the object itself or of scratch, which the caller
/// provides empty and keeps alive while it uses the result. decode must give back the
/// value encode was given, and encode the same bytes for equal values: a store finds
/// keys by their bytes, and a scan resumes from the last key it handed out, encoded again.

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "detail/assign_bytes.hpp"
#include "detail/byte_order.hpp"

namespace kvforge {

/// The codec for T. Undefined for types kvforge cannot encode; specialise it for your own.
template <class T, class Enable = void>
struct codec;

namespace detail {

template <class T>
concept byte_like = std::same_as<T, char> || std::same_as<T, signed char> || std::same_as<T, unsigned char> ||
                    std::same_as<T, std::byte>;

/// Types encoded as a big-endian number with an order-preserving transform.
template <class T>
concept number_like = std::is_arithmetic_v<T> || std::is_enum_v<T>;

template <class T>
inline constexpr bool is_string_view_v = false;
template <class Char, class Traits>
inline constexpr bool is_string_view_v<std::basic_string_view<Char, Traits>> = true;

/// Types encoded by their object bytes: no padding, so equal values have equal bytes,
/// and no pointers, whose bytes mean nothing once stored.
template <class T>
concept raw_bytes_like = std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T> &&
                         !number_like<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T> &&
                         !is_string_view_v<T>;

template <std::size_t Size>
struct unsigned_of_size;
template <>
struct unsigned_of_size<1> { using type = std::uint8_t; };
template <>
struct unsigned_of_size<2> { using type = std::uint16_t; };
template <>
struct unsigned_of_size<4> { using type = std::uint32_t; };
template <>
struct unsigned_of_size<8> { using type = std::uint64_t; };

}  // namespace detail

/// std::string: its bytes as they are. Calls of a std::string store also take std::string_view.
template <>
struct codec<std::string> {
    static std::string name() { return "bytes"; }
    static std::string_view encode(std::string_view value, std::string& /*scratch*/) noexcept { return value; }
    static bool decode(std::string_view bytes, std::string& out) {
        detail::assign_bytes(out, bytes);
        return true;
    }
};

/// Vectors of bytes (char, unsigned char, signed char, std::byte): their bytes as they are.
template <detail::byte_like Byte, class Allocator>
struct codec<std::vector<Byte, Allocator>> {
    static std::string name() { return "bytes"; }
    static std::string_view encode(const std::vector<Byte, Allocator>& value, std::string& /*scratch*/) noexcept {
        return {reinterpret_cast<const char*>(value.data()), value.size()};
    }
    static bool decode(std::string_view bytes, std::vector<Byte, Allocator>& out) {
        const auto* first = reinterpret_cast<const Byte*>(bytes.data());
        out.assign(first, first + bytes.size());
        return true;
    }
};

/// Integers, enums, bool and floating point: big-endian, transformed so that memcmp
/// order is numeric order (sign bit flipped for signed integers; for floating point,
/// all bits flipped when negative, else the sign bit set).
template <detail::number_like T>
struct codec<T> {
private:
    using bits_type = typename detail::unsigned_of_size<sizeof(T)>::type;
    static constexpr bits_type sign_bit = bits_type(bits_type{1} << (sizeof(T) * 8 - 1));

    static constexpr bool is_signed_integer() {
        if constexpr (std::is_enum_v<T>) {
            return std::is_signed_v<std::underlying_type_t<T>>;
        } else {
            return std::is_integral_v<T> && std::is_signed_v<T>;
        }
    }

    static constexpr bits_type to_ordered(bits_type bits) noexcept {
        if constexpr (std::is_floating_point_v<T>) {
            return (bits & sign_bit) ? bits_type(~bits) : bits_type(bits | sign_bit);
        } else if constexpr (is_signed_integer()) {
            return bits_type(bits ^ sign_bit);
        } else {
            return bits;
        }
    }

    static constexpr bits_type from_ordered(bits_type bits) noexcept {
        if constexpr (std::is_floating_point_v<T>) {
            return (bits & sign_bit) ? bits_type(bits & ~sign_bit) : bits_type(~bits);
        } else if constexpr (is_signed_integer()) {
            return bits_type(bits ^ sign_bit);
        } else {
            return bits;
        }
    }

public:
    static std::string name() {
        const char* family = std::is_floating_point_v<T> ? "float" : is_signed_integer() ? "int" : "uint";
        return std::string(family) + std::to_string(sizeof(T) * 8) + ".be";
    }
    static std::string_view encode(const T& value, std::string& scratch) {
        const bits_type ordered = detail::to_big_endian(to_ordered(std::bit_cast<bits_type>(value)));
        scratch.resize(sizeof(T));  // within the small-string buffer: no allocation
        std::memcpy(scratch.data(), &ordered, sizeof(T));
        return scratch;
    }
    static bool decode(std::string_view bytes, T& out) noexcept {
        if (bytes.size() != sizeof(T)) return false;
        const auto stored = detail::load_unaligned<bits_type>(bytes.data());
        out = std::bit_cast<T>(from_ordered(detail::to_big_endian(stored)));
        return true;
    }
};

/// Other trivially copyable types without padding (arrays of bytes, plain structs of
/// integers): their object bytes. Types with padding need a codec of their own, since
/// their padding bytes are indeterminate and equal values could encode differently.
template <detail::raw_bytes_like T>
struct codec<T> {
    static std::string name() { return "raw" + std::to_string(sizeof(T)); }
    static std::string_view encode(const T& value, std::string& /*scratch*/) noexcept {
        return {reinterpret_cast<const char*>(&value), sizeof(T)};
    }
    static bool decode(std::string_view bytes, T& out) noexcept {
        if (bytes.size() != sizeof(T)) return false;
        std::memcpy(&out, bytes.data(), sizeof(T));
        return true;
    }
};

namespace detail {

/// How a call takes a T: std::string as std::string_view (so literals and views need
/// no copy), everything else by const reference.
template <class T>
using param_t = std::conditional_t<std::is_same_v<T, std::string>, std::string_view, const T&>;

}  // namespace detail

/// T has a usable kvforge::codec: a name for the encoding, encode and decode.
template <class T>
concept encodable = requires(detail::param_t<T> value, std::string& scratch, std::string_view bytes, T& out) {
    { codec<T>::name() } -> std::convertible_to<std::string>;
    { codec<T>::encode(value, scratch) } -> std::same_as<std::string_view>;
    { codec<T>::decode(bytes, out) } -> std::same_as<bool>;
};

}  // namespace kvforge
