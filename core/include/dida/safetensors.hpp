#pragma once
// safetensors: dida's one container for tensors (model weights, sample sets, data caches).
//
// Layout: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON, then the data.
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// Offsets count from the first byte after the header. The data is little-endian.
//
// Reader contract: the whole header is validated before any tensor is handed out: the length
// field against the file size, the JSON, every dtype, shape and offset pair, and that the
// tensors tile the data exactly (no overlap, no hole, nothing past the end). Any violation
// throws FormatError with one line naming the file and, where there is one, the tensor.
// No read ever goes outside the buffer.
//
// Writer contract: tensors are ordered by element size (largest first), then by name, and the
// header is padded with spaces to a multiple of 8, so every tensor is aligned to its element
// size. save() writes a temporary file and renames it: an existing file is never half-written.
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace dida {

// A file or buffer that is not valid safetensors, or a request it cannot answer.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

const char* dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);
// Parses "F32", "U8", ...; throws FormatError for anything else.
DType parse_dtype(const std::string& name);

struct TensorInfo {
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // offset of the first byte, from the start of the data
  std::uint64_t end = 0;    // one past the last byte
  std::int64_t numel() const;
};

class SafeTensorsFile {
 public:
  // Reads and validates a file. Throws FormatError (bad content) or std::runtime_error (I/O).
  static SafeTensorsFile load(const std::string& path);
  // Validates a buffer already in memory; `origin` names it in error messages.
  static SafeTensorsFile parse(std::vector<std::uint8_t> bytes, std::string origin = "<memory>");

  const std::string& origin() const { return origin_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The metadata value for `key`, or `fallback` when there is none.
  std::string metadata_or(const std::string& key, const std::string& fallback) const;

  // Raw little-endian bytes of a tensor (info(name).end - info(name).begin of them).
  const std::uint8_t* raw(const std::string& name) const;
  // Element values converted to float (any dtype) or int64 (integer and bool dtypes).
  std::vector<float> to_f32(const std::string& name) const;
  std::vector<std::int64_t> to_i64(const std::string& name) const;
  // The bytes of a U8 tensor; FormatError for any other dtype.
  std::vector<std::uint8_t> to_u8(const std::string& name) const;

 private:
  std::string origin_;
  std::vector<std::uint8_t> bytes_;
  std::size_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

class SafeTensorsWriter {
 public:
  // Adds a tensor; `nbytes` must equal numel(shape) * dtype_size(dtype). Names are unique.
  void add(const std::string& name, DType dtype, const std::vector<std::int64_t>& shape,
           const void* data, std::size_t nbytes);
  void add_f32(const std::string& name, const std::vector<std::int64_t>& shape,
               const std::vector<float>& values);
  void add_u8(const std::string& name, const std::vector<std::int64_t>& shape,
              const std::vector<std::uint8_t>& values);
  void add_i64(const std::string& name, const std::vector<std::int64_t>& shape,
               const std::vector<std::int64_t>& values);
  void set_metadata(const std::string& key, const std::string& value);

  std::vector<std::uint8_t> to_bytes() const;
  // Atomic: write_file_atomic.
  void save(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::uint8_t> data;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Largest header accepted by the reader (the reference implementation's limit).
constexpr std::uint64_t kMaxSafetensorsHeader = 100u * 1024u * 1024u;

// Reads a whole file; throws std::runtime_error naming the file when it cannot, or, before reading,
// when it holds more than `max_bytes` (what: what the limit is for, named in the error).
std::vector<std::uint8_t> read_file_bytes(const std::string& path);
std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::uint64_t max_bytes, const std::string& what);
// Writes `path` atomically: a uniquely named temporary beside it, created exclusively (a planted
// link is never followed), then renamed over it. Refuses a `path` that is a folder, FIFO, socket
// or device; a failed write leaves the old file as it was and no temporary behind.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);

}  // namespace dida
