#include "text_form.hpp"

#include <kvforge/codec.hpp>

#include <charconv>
#include <cstdint>
#include <system_error>
#include <type_traits>

namespace kvforge_tool {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Text between single quotes, for messages. Built by appending: g++ 12 at -O3 warns
/// falsely (-Wrestrict) on "'" + std::string(text).
std::string quoted(std::string_view text) {
    std::string out(1, '\'');
    out.append(text).append(1, '\'');
    return out;
}

/// The number of bits of a built-in number codec's name ("int32.be" with prefix "int"), or 0.
unsigned bits_of(std::string_view name, std::string_view prefix) {
    if (name.substr(0, prefix.size()) != prefix || name.size() < prefix.size() + 4 ||
        name.substr(name.size() - 3) != ".be") {
        return 0;
    }
    const std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - 3);
    for (const unsigned bits : {8U, 16U, 32U, 64U}) {
        if (digits == std::to_string(bits)) return bits;
    }
    return 0;
}

/// The encoding of value by the built-in codec of T, as bytes.
template <class T>
std::string encoded(T value) {
    std::string scratch;
    return std::string(kvforge::codec<T>::encode(value, scratch));
}

template <class T>
bool decoded(std::string_view bytes, T& value) {
    return kvforge::codec<T>::decode(bytes, value);
}

std::string show_signed(std::string_view bytes, unsigned bits) {
    std::int64_t value = 0;
    bool ok = false;
    switch (bits) {
        case 8: { std::int8_t v = 0; ok = decoded(bytes, v); value = v; break; }
        case 16: { std::int16_t v = 0; ok = decoded(bytes, v); value = v; break; }
        case 32: { std::int32_t v = 0; ok = decoded(bytes, v); value = v; break; }
        default: ok = decoded(bytes, value); break;
    }
    return ok ? std::to_string(value) : std::string();
}

std::string show_unsigned(std::string_view bytes, unsigned bits) {
    std::uint64_t value = 0;
    bool ok = false;
    switch (bits) {
        case 8: { std::uint8_t v = 0; ok = decoded(bytes, v); value = v; break; }
        case 16: { std::uint16_t v = 0; ok = decoded(bytes, v); value = v; break; }
        case 32: { std::uint32_t v = 0; ok = decoded(bytes, v); value = v; break; }
        default: ok = decoded(bytes, value); break;
    }
    return ok ? std::to_string(value) : std::string();
}

template <class T>
std::string shortest(T value) {
    char text[64];
    const auto result = std::to_chars(text, text + sizeof text, value);
    return std::string(text, result.ptr);
}

std::string show_floating(std::string_view bytes, unsigned bits) {
    if (bits == 32) {
        float value = 0;
        return decoded(bytes, value) ? shortest(value) : std::string();
    }
    double value = 0;
    return decoded(bytes, value) ? shortest(value) : std::string();
}

/// Parses all of text as T; false when it is not a number of T's range.
template <class T>
bool parse_number(std::string_view text, T& value) {
    if (text.empty()) return false;
    const char* first = text.data();
    if constexpr (std::is_unsigned_v<T>) {
        if (*first == '+') ++first;
    }
    const auto result = std::from_chars(first, text.data() + text.size(), value);
    return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

template <class T>
bool read_as(std::string_view text, std::string& bytes) {
    T value{};
    if (!parse_number(text, value)) return false;
    bytes = encoded(value);
    return true;
}

}  // namespace

std::string escape(std::string_view bytes) {
    std::string text;
    text.reserve(bytes.size());
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        switch (c) {
            case '\\': text += "\\\\"; break;
            case '\t': text += "\\t"; break;
            case '\n': text += "\\n"; break;
            case '\r': text += "\\r"; break;
            default:
                if (byte >= 0x20 && byte < 0x7f) {
                    text += c;
                } else {
                    text += "\\x";
                    text += hex_digits[byte >> 4];
                    text += hex_digits[byte & 0x0f];
                }
        }
    }
    return text;
}

bool unescape(std::string_view text, std::string& bytes, std::string& problem) {
    bytes.clear();
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c != '\\') {
            bytes += c;
            continue;
        }
        if (++i == text.size()) {
            problem = "a backslash ends the text; write \\\\ for a backslash";
            return false;
        }
        switch (text[i]) {
            case '\\': bytes += '\\'; break;
            case 't': bytes += '\t'; break;
            case 'n': bytes += '\n'; break;
            case 'r': bytes += '\r'; break;
            case 'x': {
                const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
                const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
                if (high < 0 || low < 0) {
                    problem = "\\x must be followed by two hex digits";
                    return false;
                }
                bytes += static_cast<char>(high * 16 + low);
                i += 2;
                break;
            }
            default:
                problem = std::string("unknown escape \\") + text[i] + " (known: \\\\ \\t \\n \\r \\xHH)";
                return false;
        }
    }
    return true;
}

std::string to_hex(std::string_view bytes) {
    std::string text;
    text.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        text += hex_digits[byte >> 4];
        text += hex_digits[byte & 0x0f];
    }
    return text;
}

bool from_hex(std::string_view text, std::string& bytes, std::string& problem) {
    bytes.clear();
    if (text.size() % 2 != 0) {
        problem = "hex needs two digits per byte, and " + quoted(text) + " has an odd number";
        return false;
    }
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int high = hex_value(text[i]);
        const int low = hex_value(text[i + 1]);
        if (high < 0 || low < 0) {
            problem = quoted(text) + " is not hex (digits 0-9 and a-f)";
            return false;
        }
        bytes += static_cast<char>(high * 16 + low);
    }
    return true;
}

text_form::text_form(std::string_view codec_name, bool hex) : kind_(kind::hex), codec_(codec_name) {
    if (hex) return;
    if (codec_name == "bytes") {
        kind_ = kind::bytes;
    } else if ((bits_ = bits_of(codec_name, "uint")) != 0) {
        kind_ = kind::unsigned_integer;
    } else if ((bits_ = bits_of(codec_name, "int")) != 0) {
        kind_ = kind::signed_integer;
    } else if ((bits_ = bits_of(codec_name, "float")) == 32 || bits_ == 64) {
        kind_ = kind::floating;
    }
}

std::string text_form::show(std::string_view bytes) const {
    std::string text;
    switch (kind_) {
        case kind::bytes: return escape(bytes);
        case kind::hex: return to_hex(bytes);
        case kind::signed_integer: text = show_signed(bytes, bits_); break;
        case kind::unsigned_integer: text = show_unsigned(bytes, bits_); break;
        case kind::floating: text = show_floating(bytes, bits_); break;
    }
    // Bytes the codec does not take (of the wrong size) are shown as they are, in hex.
    return text.empty() ? "0x" + to_hex(bytes) : text;
}

bool text_form::read(std::string_view text, std::string& bytes, std::string& problem) const {
    bool ok = true;
    switch (kind_) {
        case kind::bytes: return unescape(text, bytes, problem);
        case kind::hex: return from_hex(text, bytes, problem);
        case kind::signed_integer:
            ok = bits_ == 8    ? read_as<std::int8_t>(text, bytes)
                 : bits_ == 16 ? read_as<std::int16_t>(text, bytes)
                 : bits_ == 32 ? read_as<std::int32_t>(text, bytes)
                               : read_as<std::int64_t>(text, bytes);
            break;
        case kind::unsigned_integer:
            ok = bits_ == 8    ? read_as<std::uint8_t>(text, bytes)
                 : bits_ == 16 ? read_as<std::uint16_t>(text, bytes)
                 : bits_ == 32 ? read_as<std::uint32_t>(text, bytes)
                               : read_as<std::uint64_t>(text, bytes);
            break;
        case kind::floating:
            ok = bits_ == 32 ? read_as<float>(text, bytes) : read_as<double>(text, bytes);
            break;
    }
    if (!ok) problem = quoted(text) + " is not " + describe();
    return ok;
}

std::string text_form::describe() const {
    switch (kind_) {
        case kind::bytes: return "text";
        case kind::hex:
            return codec_ == "bytes" || codec_.empty() ? std::string("hex")
                                                       : "hex (the codec '" + codec_ + "' is not one the tool reads)";
        case kind::signed_integer: return "an integer of " + std::to_string(bits_) + " bits (codec '" + codec_ + "')";
        case kind::unsigned_integer:
            return "an unsigned integer of " + std::to_string(bits_) + " bits (codec '" + codec_ + "')";
        case kind::floating: return "a number (codec '" + codec_ + "')";
    }
    return "text";
}

}  // namespace kvforge_tool
