// StringArena: bump allocation of bytes owned by one batch. Reset() keeps the blocks, so a
// batch reused from a pool allocates nothing once warm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace brandpulse {

// Not thread-safe: one owner (the batch) at a time. Views returned stay valid until Reset().
class StringArena {
 public:
  explicit StringArena(size_t block_size = 64 * 1024) : block_size_(block_size) {}
  StringArena(const StringArena&) = delete;
  StringArena& operator=(const StringArena&) = delete;

  // Uninitialized space for `size` bytes.
  char* Allocate(size_t size) {
    if (current_ < blocks_.size() && blocks_[current_].used + size <= blocks_[current_].size) {
      Block& block = blocks_[current_];
      char* out = block.data.get() + block.used;
      block.used += size;
      return out;
    }
    return AllocateSlow(size);
  }

  // Uninitialized space for `size` bytes aligned to `alignment` (a power of two).
  void* AllocateAligned(size_t size, size_t alignment) {
    char* raw = Allocate(size + alignment - 1);
    auto address = reinterpret_cast<uintptr_t>(raw);
    return raw + ((alignment - address % alignment) % alignment);
  }

  std::string_view Copy(std::string_view text) {
    if (text.empty()) return {};
    char* out = Allocate(text.size());
    std::memcpy(out, text.data(), text.size());
    return std::string_view(out, text.size());
  }

  void Reset() {
    for (Block& block : blocks_) block.used = 0;
    current_ = 0;
    // Oversized blocks made for one huge string are released so memory stays bounded.
    std::erase_if(blocks_, [this](const Block& block) { return block.size > block_size_; });
  }

  size_t bytes_reserved() const {
    size_t total = 0;
    for (const Block& block : blocks_) total += block.size;
    return total;
  }

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size = 0;
    size_t used = 0;
  };

  char* AllocateSlow(size_t size) {
    // Move on to the next block that fits; blocks before it stay partly used until Reset().
    while (current_ + 1 < blocks_.size()) {
      ++current_;
      Block& block = blocks_[current_];
      if (block.used + size <= block.size) {
        char* out = block.data.get() + block.used;
        block.used += size;
        return out;
      }
    }
    size_t block_bytes = size > block_size_ ? size : block_size_;
    blocks_.push_back(Block{std::make_unique<char[]>(block_bytes), block_bytes, size});
    current_ = blocks_.size() - 1;
    return blocks_.back().data.get();
  }

  size_t block_size_;
  std::vector<Block> blocks_;
  size_t current_ = 0;
};

}  // namespace brandpulse
