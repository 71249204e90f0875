#include "dida/safetensors.hpp"

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dida/json_text.hpp"

namespace dida {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw FormatError(origin + ": " + what);
}

std::uint64_t read_le_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exponent = 127 - 15 + 1;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      mantissa &= 0x3ffu;
      bits = sign | (exponent << 23) | (mantissa << 13);
    }
  } else if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename T>
T load_le(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // hosts (x86-64, wasm32) are little-endian
  return v;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// numel with overflow detection; -1 when the product does not fit.
std::int64_t checked_numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d) return -1;
    n *= d;
  }
  return n;
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::Bool: return 1;
  }
  return 0;
}

DType parse_dtype(const std::string& name) {
  static const std::pair<const char*, DType> kTable[] = {
      {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
      {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
      {"U8", DType::U8},   {"BOOL", DType::Bool}};
  for (const auto& [n, d] : kTable)
    if (name == n) return d;
  throw FormatError("unknown dtype \"" + name + "\"");
}

std::int64_t TensorInfo::numel() const { return checked_numel(shape); }

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  return read_file_bytes(path, std::numeric_limits<std::uint64_t>::max(), "");
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::uint64_t max_bytes, const std::string& what) {
  // A folder or a FIFO opens without error: one reads as a huge size, the other blocks forever.
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (st.type() == std::filesystem::file_type::directory) throw std::runtime_error(path + ": is a folder, not a file");
  if (st.type() != std::filesystem::file_type::not_found && st.type() != std::filesystem::file_type::regular && !ec)
    throw std::runtime_error(path + ": not a regular file (a FIFO, socket or device); give a file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error(path + (st.type() == std::filesystem::file_type::not_found ? ": no such file" : ": cannot open file"));
  const std::streamoff size = in.tellg();
  if (size < 0) throw std::runtime_error(path + ": cannot read file size");
  if (static_cast<std::uint64_t>(size) > max_bytes)
    throw std::runtime_error(path + ": " + std::to_string(size) + " bytes, more than the " + std::to_string(max_bytes) +
                             " bytes " + what + " may have (refused before reading)");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw std::runtime_error(path + ": read failed");
  return bytes;
}

void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
  // Only a regular file (or nothing) is replaced: a FIFO, a device or a folder named as the output
  // is refused by name, never swapped for a regular file. A link at `path` is replaced, not followed.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
    throw std::runtime_error(path + ": exists and is not a regular file (" +
                             (S_ISDIR(st.st_mode) ? "a folder" : "a FIFO, socket or device") +
                             "); dida writes only regular files: choose another name");
  // A fresh temporary beside it, created exclusively (mkstemp: O_CREAT | O_EXCL, so no link is
  // followed) under a unique name: two writers never share one, and no name can be planted for it.
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw std::runtime_error(path + ": cannot create a temporary file beside it (" + std::strerror(errno) + ")");
  const mode_t mask = ::umask(0);  // mkstemp makes 0600; the file gets what the user's umask gives
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  const char* p = static_cast<const char*>(data);
  std::size_t left = size;
  bool ok = true;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    p += n, left -= static_cast<std::size_t>(n);
  }
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    throw std::runtime_error(path + ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error(path + ": cannot move the written file into place (" + why + ")");
  }
}

SafeTensorsFile SafeTensorsFile::load(const std::string& path) {
  return parse(read_file_bytes(path), path);
}

SafeTensorsFile SafeTensorsFile::parse(std::vector<std::uint8_t> bytes, std::string origin) {
  SafeTensorsFile f;
  f.origin_ = std::move(origin);
  const std::string& o = f.origin_;
  if (bytes.size() < 8)
    fail(o, "not a safetensors file: " + std::to_string(bytes.size()) +
                " bytes, shorter than the 8-byte header length");
  const std::uint64_t header_len = read_le_u64(bytes.data());
  if (header_len > kMaxSafetensorsHeader)
    fail(o, "header length " + std::to_string(header_len) + " exceeds the " +
                std::to_string(kMaxSafetensorsHeader) + "-byte limit (not a safetensors file?)");
  if (header_len > bytes.size() - 8)
    fail(o, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                std::to_string(bytes.size()) + " bytes): truncated?");
  if (header_len < 2 || bytes[8] != '{')
    fail(o, "header does not start with a JSON object");

  json header;
  try {
    const auto* text = reinterpret_cast<const char*>(bytes.data()) + 8;
    header = parse_json(text, text + header_len, "header");
  } catch (const std::runtime_error& e) {
    fail(o, e.what());
  }
  if (!header.is_object()) fail(o, "header is not a JSON object");

  f.data_start_ = 8 + static_cast<std::size_t>(header_len);
  const std::uint64_t data_size = bytes.size() - f.data_start_;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(o, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(o, "__metadata__[\"" + m.key() + "\"] is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor \"" + name + "\": ";
    if (!v.is_object()) fail(o, where + "entry is not an object");
    for (auto k = v.begin(); k != v.end(); ++k)
      if (k.key() != "dtype" && k.key() != "shape" && k.key() != "data_offsets")
        fail(o, where + "unknown field \"" + k.key() + "\"");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(o, where + "missing or non-string dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) fail(o, where + "missing or non-array shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      fail(o, where + "data_offsets must be an array of two integers");

    TensorInfo info;
    try {
      info.dtype = parse_dtype(v["dtype"].get<std::string>());
    } catch (const FormatError& e) {
      fail(o, where + e.what());
    }
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned()) fail(o, where + "shape has a negative or non-integer dimension");
      const std::uint64_t dim = d.get<std::uint64_t>();
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail(o, where + "shape dimension too large");
      info.shape.push_back(static_cast<std::int64_t>(dim));
    }
    for (const json& d : v["data_offsets"])
      if (!d.is_number_unsigned()) fail(o, where + "data_offsets must be non-negative integers");
    info.begin = v["data_offsets"][0].get<std::uint64_t>();
    info.end = v["data_offsets"][1].get<std::uint64_t>();
    if (info.begin > info.end) fail(o, where + "data_offsets begin > end");
    if (info.end > data_size)
      fail(o, where + "data_offsets end " + std::to_string(info.end) + " is past the data (" +
                  std::to_string(data_size) + " bytes): truncated?");
    const std::int64_t n = checked_numel(info.shape);
    const std::uint64_t esize = dtype_size(info.dtype);
    if (n < 0 || static_cast<std::uint64_t>(n) > std::numeric_limits<std::uint64_t>::max() / esize)
      fail(o, where + "shape " + shape_string(info.shape) + " overflows");
    if (static_cast<std::uint64_t>(n) * esize != info.end - info.begin)
      fail(o, where + "shape " + shape_string(info.shape) + " of " + dtype_name(info.dtype) +
                  " needs " + std::to_string(static_cast<std::uint64_t>(n) * esize) +
                  " bytes, data_offsets give " + std::to_string(info.end - info.begin));
    f.tensors_.emplace(name, std::move(info));
  }

  // The tensors must tile the data exactly: no overlap, no hole, no trailing bytes.
  std::vector<std::pair<std::uint64_t, std::string>> order;
  for (const auto& [name, info] : f.tensors_) order.emplace_back(info.begin, name);
  std::sort(order.begin(), order.end());
  std::uint64_t cursor = 0;
  for (const auto& [begin, name] : order) {
    const TensorInfo& info = f.tensors_.at(name);
    if (info.begin == info.end && info.begin <= cursor) continue;  // empty tensors take no bytes
    if (begin < cursor) fail(o, "tensor \"" + name + "\": data overlaps the previous tensor");
    if (begin > cursor) fail(o, "tensor \"" + name + "\": hole of " + std::to_string(begin - cursor) +
                                    " bytes before its data");
    cursor = info.end;
  }
  if (cursor != data_size)
    fail(o, std::to_string(data_size - cursor) + " bytes of data after the last tensor");

  f.bytes_ = std::move(bytes);
  return f;
}

std::vector<std::string> SafeTensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

const TensorInfo& SafeTensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(origin_, "no tensor named \"" + name + "\"");
  return it->second;
}

std::string SafeTensorsFile::metadata_or(const std::string& key, const std::string& fallback) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? fallback : it->second;
}

const std::uint8_t* SafeTensorsFile::raw(const std::string& name) const {
  return bytes_.data() + data_start_ + info(name).begin;
}

std::vector<float> SafeTensorsFile::to_f32(const std::string& name) const {
  const TensorInfo& t = info(name);
  const std::uint8_t* p = raw(name);
  const std::size_t n = static_cast<std::size_t>(t.numel());
  const std::size_t es = dtype_size(t.dtype);
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* e = p + i * es;
    switch (t.dtype) {
      case DType::F64: out[i] = static_cast<float>(load_le<double>(e)); break;
      case DType::F32: out[i] = load_le<float>(e); break;
      case DType::F16: out[i] = half_to_float(load_le<std::uint16_t>(e)); break;
      case DType::BF16: {
        const std::uint32_t bits = static_cast<std::uint32_t>(load_le<std::uint16_t>(e)) << 16;
        std::memcpy(&out[i], &bits, 4);
        break;
      }
      case DType::I64: out[i] = static_cast<float>(load_le<std::int64_t>(e)); break;
      case DType::I32: out[i] = static_cast<float>(load_le<std::int32_t>(e)); break;
      case DType::I16: out[i] = static_cast<float>(load_le<std::int16_t>(e)); break;
      case DType::I8: out[i] = static_cast<float>(load_le<std::int8_t>(e)); break;
      case DType::U8: case DType::Bool: out[i] = static_cast<float>(e[0]); break;
    }
  }
  return out;
}

std::vector<std::int64_t> SafeTensorsFile::to_i64(const std::string& name) const {
  const TensorInfo& t = info(name);
  const std::uint8_t* p = raw(name);
  const std::size_t n = static_cast<std::size_t>(t.numel());
  const std::size_t es = dtype_size(t.dtype);
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* e = p + i * es;
    switch (t.dtype) {
      case DType::I64: out[i] = load_le<std::int64_t>(e); break;
      case DType::I32: out[i] = load_le<std::int32_t>(e); break;
      case DType::I16: out[i] = load_le<std::int16_t>(e); break;
      case DType::I8: out[i] = load_le<std::int8_t>(e); break;
      case DType::U8: case DType::Bool: out[i] = e[0]; break;
      default:
        fail(origin_, "tensor \"" + name + "\" is " + dtype_name(t.dtype) + ", not an integer type");
    }
  }
  return out;
}

std::vector<std::uint8_t> SafeTensorsFile::to_u8(const std::string& name) const {
  const TensorInfo& t = info(name);
  if (t.dtype != DType::U8)
    fail(origin_, "tensor \"" + name + "\" is " + dtype_name(t.dtype) + ", expected U8");
  const std::uint8_t* p = raw(name);
  return std::vector<std::uint8_t>(p, p + (t.end - t.begin));
}

void SafeTensorsWriter::add(const std::string& name, DType dtype,
                            const std::vector<std::int64_t>& shape, const void* data,
                            std::size_t nbytes) {
  if (name.empty() || name == "__metadata__") throw FormatError("invalid tensor name \"" + name + "\"");
  if (entries_.count(name)) throw FormatError("tensor \"" + name + "\" added twice");
  const std::int64_t n = checked_numel(shape);
  if (n < 0 || static_cast<std::uint64_t>(n) * dtype_size(dtype) != nbytes)
    throw FormatError("tensor \"" + name + "\": shape " + shape_string(shape) + " of " +
                      dtype_name(dtype) + " does not match " + std::to_string(nbytes) + " bytes");
  Entry e{dtype, shape, {}};
  e.data.resize(nbytes);
  if (nbytes) std::memcpy(e.data.data(), data, nbytes);
  entries_.emplace(name, std::move(e));
}

void SafeTensorsWriter::add_f32(const std::string& name, const std::vector<std::int64_t>& shape,
                                const std::vector<float>& values) {
  add(name, DType::F32, shape, values.data(), values.size() * sizeof(float));
}
void SafeTensorsWriter::add_u8(const std::string& name, const std::vector<std::int64_t>& shape,
                               const std::vector<std::uint8_t>& values) {
  add(name, DType::U8, shape, values.data(), values.size());
}
void SafeTensorsWriter::add_i64(const std::string& name, const std::vector<std::int64_t>& shape,
                                const std::vector<std::int64_t>& values) {
  add(name, DType::I64, shape, values.data(), values.size() * sizeof(std::int64_t));
}
void SafeTensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

std::vector<std::uint8_t> SafeTensorsWriter::to_bytes() const {
  std::vector<const std::pair<const std::string, Entry>*> order;
  for (const auto& kv : entries_) order.push_back(&kv);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return dtype_size(a->second.dtype) > dtype_size(b->second.dtype);
  });
  json header = json::object();
  std::uint64_t offset = 0;
  for (auto* kv : order) {
    const Entry& e = kv->second;
    header[kv->first] = {{"dtype", dtype_name(e.dtype)},
                         {"shape", e.shape},
                         {"data_offsets", {offset, offset + e.data.size()}}};
    offset += e.data.size();
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  std::vector<std::uint8_t> out(8 + text.size() + offset);
  const std::uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(len >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  std::size_t pos = 8 + text.size();
  for (auto* kv : order) {
    if (!kv->second.data.empty()) std::memcpy(out.data() + pos, kv->second.data.data(), kv->second.data.size());
    pos += kv->second.data.size();
  }
  return out;
}

void SafeTensorsWriter::save(const std::string& path) const {
  const std::vector<std::uint8_t> bytes = to_bytes();
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace dida
