// netring.hpp: header-only C++17 wrapper over netring's C API (netring.h).
//
// Installed next to netring.h; build with
//     c++ -std=c++17 app.cpp $(pkg-config --cflags --libs netring)
//
// What it adds to the C API, and nothing else:
//  - move-only RAII handles (capture, reader, writer, injector, xdp) that
//    close themselves, and a batch that releases itself;
//  - range-for over a batch, walking it with nr_batch_fill() in chunks of
//    64 descriptors (no call per packet, no copy of packet bytes);
//  - packet bytes as a bytes_view (pointer + size), which converts to
//    std::span<const std::uint8_t> under C++20;
//  - errors as netring::error, a std::system_error in netring's error
//    category whose what() carries nr_last_error()'s sentence; every
//    throwing call has a noexcept try_* twin that returns the status.
//
// Lifetimes are those of the C API: a batch (and every packet and
// bytes_view from it) must be released, or destroyed, before its handle is
// closed; packet memory is the ring's and must not be written.
#ifndef NETRING_HPP
#define NETRING_HPP

#include <netring.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#if __cplusplus >= 202002L
#include <span>
#endif

namespace netring {

// ---------------------------------------------------------------- errors

/// Every status the C API returns. Positive values are not errors.
enum class status : int {
    ok = NR_OK,
    timeout = NR_TIMEOUT,
    break_requested = NR_BREAK,
    stopped = NR_STOPPED,
    iface_down = NR_IFACE_DOWN,
    eof = NR_EOF,
    invalid_arg = NR_E_INVALID_ARG,
    permission = NR_E_PERMISSION,
    no_device = NR_E_NO_DEVICE,
    no_memory = NR_E_NO_MEMORY,
    config = NR_E_CONFIG,
    iface_gone = NR_E_IFACE_GONE,
    busy = NR_E_BUSY,
    bad_batch = NR_E_BAD_BATCH,
    unsupported = NR_E_UNSUPPORTED,
    malformed = NR_E_MALFORMED,
    too_big = NR_E_TOO_BIG,
    system = NR_E_SYSTEM,
    internal = NR_E_INTERNAL,
};

/// The std::error_category of netring's status codes (name "netring";
/// message() is nr_strerror()).
class error_category_impl final : public std::error_category {
public:
    const char *name() const noexcept override { return "netring"; }
    std::string message(int ev) const override { return nr_strerror(ev); }
    std::error_condition default_error_condition(int ev) const noexcept override
    {
        switch (ev) {
        case NR_E_INVALID_ARG: return std::errc::invalid_argument;
        case NR_E_PERMISSION: return std::errc::operation_not_permitted;
        case NR_E_NO_DEVICE: return std::errc::no_such_device;
        case NR_E_NO_MEMORY: return std::errc::not_enough_memory;
        case NR_E_BUSY: return std::errc::device_or_resource_busy;
        case NR_E_UNSUPPORTED: return std::errc::not_supported;
        case NR_E_TOO_BIG: return std::errc::message_size;
        default: return std::error_condition(ev, *this);
        }
    }
};

inline const std::error_category &error_category() noexcept
{
    static const error_category_impl cat;
    return cat;
}

inline std::error_code make_error_code(status s) noexcept
{
    return std::error_code(static_cast<int>(s), error_category());
}

/// A failed netring call: code() is the status in netring's category,
/// what() is nr_last_error()'s sentence (read on the failing thread, right
/// after the call), followed by nr_strerror() in parentheses.
class error : public std::system_error {
public:
    error(int rc, const std::string &sentence)
        : std::system_error(rc, error_category(), sentence), sentence_(sentence)
    {
    }
    /// The raw NR_E_* value.
    int status_code() const noexcept { return code().value(); }
    /// nr_last_error()'s sentence alone.
    const std::string &sentence() const noexcept { return sentence_; }

private:
    std::string sentence_;
};

namespace detail {
/// Throw for a negative status; return any other status unchanged.
inline status check(int rc)
{
    if (rc < 0)
        throw error(rc, nr_last_error());
    return static_cast<status>(rc);
}
} // namespace detail

// ---------------------------------------------------------------- bytes

/// A read-only view of packet bytes (ring memory: zero copy). Valid as long
/// as the batch it came from is held.
class bytes_view {
public:
    using value_type = std::uint8_t;
    using const_iterator = const std::uint8_t *;
    constexpr bytes_view() noexcept = default;
    constexpr bytes_view(const std::uint8_t *p, std::size_t n) noexcept : p_(p), n_(n) {}
    constexpr const std::uint8_t *data() const noexcept { return p_; }
    constexpr std::size_t size() const noexcept { return n_; }
    constexpr bool empty() const noexcept { return n_ == 0; }
    constexpr const std::uint8_t *begin() const noexcept { return p_; }
    constexpr const std::uint8_t *end() const noexcept { return p_ + n_; }
    constexpr std::uint8_t operator[](std::size_t i) const noexcept { return p_[i]; }
#if __cplusplus >= 202002L
    constexpr operator std::span<const std::uint8_t>() const noexcept { return {p_, n_}; }
    constexpr std::span<const std::uint8_t> span() const noexcept { return {p_, n_}; }
#endif

private:
    const std::uint8_t *p_ = nullptr;
    std::size_t n_ = 0;
};

/// One packet: the C descriptor with accessors. `raw()` gives the nr_packet.
class packet {
public:
    packet() noexcept : p_() {}
    explicit packet(const nr_packet &p) noexcept : p_(p) {}
    /// The captured bytes (caplen of them).
    bytes_view data() const noexcept { return {p_.data, p_.caplen}; }
    std::uint32_t caplen() const noexcept { return p_.caplen; }
    /// Length on the wire (>= caplen).
    std::uint32_t len() const noexcept { return p_.len; }
    /// Nanoseconds since the Unix epoch.
    std::uint64_t ts_ns() const noexcept { return p_.ts_ns; }
    std::chrono::nanoseconds timestamp() const noexcept
    {
        return std::chrono::nanoseconds(static_cast<std::int64_t>(p_.ts_ns));
    }
    std::int32_t ifindex() const noexcept { return p_.ifindex; }
    std::uint32_t flags() const noexcept { return p_.flags; }
    bool truncated() const noexcept { return (p_.flags & NR_PACKET_FLAG_TRUNCATED) != 0; }
    std::uint16_t protocol() const noexcept { return p_.protocol; }
    std::uint8_t pkt_type() const noexcept { return p_.pkt_type; }
    std::uint16_t vlan_tci() const noexcept { return p_.vlan_tci; }
    std::uint32_t rxhash() const noexcept { return p_.rxhash; }
    const nr_packet &raw() const noexcept { return p_; }

private:
    nr_packet p_;
};

// ---------------------------------------------------------------- parse

/// What nr_packet_parse() found in a packet (offsets into packet::data(),
/// no copy). `status` is NR_PARSE_COMPLETE, _TRUNCATED or _MALFORMED; a
/// truncated or malformed packet is not an error. See netring.h's "Header
/// parsing" section for every field.
using layers = nr_layers;

/// Parse `p`'s headers. Throws netring::error on a bad argument only.
inline layers parse(const packet &p)
{
    layers l{};
    l.size = sizeof l;
    detail::check(nr_packet_parse(&p.raw(), &l));
    return l;
}

/// noexcept twin of parse(): the status, `*out` filled on NR_OK.
inline int try_parse(const packet &p, layers *out) noexcept
{
    *out = layers{};
    out->size = sizeof *out;
    return nr_packet_parse(&p.raw(), out);
}

// ---------------------------------------------------------------- batch

/// A held batch. Releases itself when destroyed (or with release()).
/// Range-for walks it: `for (const netring::packet &p : b)`; each walk
/// starts at the first packet. Move-only.
class batch {
public:
    static constexpr std::size_t chunk = 64;

    batch() noexcept = default;
    explicit batch(nr_batch *b) noexcept : b_(b) {}
    batch(batch &&o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
    batch &operator=(batch &&o) noexcept
    {
        if (this != &o) {
            reset();
            b_ = std::exchange(o.b_, nullptr);
        }
        return *this;
    }
    batch(const batch &) = delete;
    batch &operator=(const batch &) = delete;
    ~batch() { reset(); }

    /// True while a batch is held.
    explicit operator bool() const noexcept { return b_ != nullptr; }
    std::size_t size() const noexcept { return nr_batch_len(b_); }
    std::uint64_t seq() const noexcept { return nr_batch_seq(b_); }
    nr_batch *get() const noexcept { return b_; }

    /// Give the memory back now (throws on a failed release).
    void release()
    {
        if (b_)
            detail::check(nr_batch_release(std::exchange(b_, nullptr)));
    }
    int try_release() noexcept { return b_ ? nr_batch_release(std::exchange(b_, nullptr)) : NR_OK; }

    /// The array accessor: up to `max` descriptors into `out`, `*count`
    /// written. Returns the status (NR_OK with *count 0 at the end).
    int try_fill(nr_packet *out, std::size_t max, std::size_t *count) noexcept
    {
        return nr_batch_fill(b_, out, max, count);
    }
    /// Same, throwing; returns how many were written (0 at the end).
    std::size_t fill(nr_packet *out, std::size_t max)
    {
        std::size_t n = 0;
        detail::check(nr_batch_fill(b_, out, max, &n));
        return n;
    }
    void rewind() { detail::check(nr_batch_rewind(b_)); }

    /// The callback walk (nr_batch_for_each): `f(const packet &)` for each
    /// packet, in order; f returns void (walk everything) or bool (false
    /// stops). Returns status::ok, or status::stopped when f stopped it.
    /// An exception thrown by f stops the walk and is rethrown here (it
    /// never crosses the C library). The cheapest walk: no descriptor copy.
    template <typename F> status for_each(F &&f)
    {
        struct ctx {
            F *f;
            std::exception_ptr ex;
        } c{&f, nullptr};
        nr_packet_cb tramp = [](void *user, const nr_packet *p) noexcept -> int {
            ctx *cx = static_cast<ctx *>(user);
            // packet is a standard-layout wrapper of exactly one nr_packet.
            const packet &pk = *reinterpret_cast<const packet *>(p);
            try {
                if constexpr (std::is_void<decltype((*cx->f)(pk))>::value) {
                    (*cx->f)(pk);
                    return 0;
                } else {
                    return (*cx->f)(pk) ? 0 : 1;
                }
            } catch (...) {
                cx->ex = std::current_exception();
                return 1;
            }
        };
        int rc = nr_batch_for_each(b_, tramp, &c);
        if (c.ex)
            std::rethrow_exception(c.ex);
        return detail::check(rc);
    }

    /// Input iterator over the batch: fills chunks of `chunk` descriptors.
    /// A malformed ring block throws netring::error from ++ (the packets
    /// before the fault were delivered).
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = packet;
        using difference_type = std::ptrdiff_t;
        using pointer = const packet *;
        using reference = const packet &;

        iterator() noexcept = default;
        reference operator*() const noexcept { return buf_->at_[i_]; }
        pointer operator->() const noexcept { return &buf_->at_[i_]; }
        iterator &operator++()
        {
            if (++i_ >= buf_->n_)
                next_chunk();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator &a, const iterator &b) noexcept { return a.buf_ == b.buf_; }
        friend bool operator!=(const iterator &a, const iterator &b) noexcept { return a.buf_ != b.buf_; }

    private:
        friend class batch;
        struct buffer {
            nr_batch *b;
            std::size_t n_ = 0;
            std::array<packet, chunk> at_;
        };
        explicit iterator(buffer *buf) : buf_(buf) { next_chunk(); }
        void next_chunk()
        {
            static_assert(sizeof(packet) == sizeof(nr_packet) && std::is_standard_layout<packet>::value,
                          "packet wraps nr_packet exactly");
            std::size_t n = 0;
            // packet is a standard-layout wrapper of exactly one nr_packet.
            detail::check(nr_batch_fill(buf_->b, reinterpret_cast<nr_packet *>(buf_->at_.data()), chunk, &n));
            buf_->n_ = n;
            i_ = 0;
            if (n == 0)
                buf_ = nullptr;
        }
        buffer *buf_ = nullptr;
        std::size_t i_ = 0;
    };

    /// Rewinds and starts a walk (one walk at a time per batch).
    iterator begin()
    {
        if (!b_)
            return iterator();
        detail::check(nr_batch_rewind(b_));
        buf_.b = b_;
        return iterator(&buf_);
    }
    iterator end() noexcept { return iterator(); }

private:
    void reset() noexcept
    {
        if (b_)
            nr_batch_release(std::exchange(b_, nullptr));
    }
    nr_batch *b_ = nullptr;
    iterator::buffer buf_{};
};

// ---------------------------------------------------------------- handles

namespace detail {
/// Move-only owner of a C handle with a void close function.
template <typename T, void (*Close)(T *)>
class handle {
public:
    handle() noexcept = default;
    explicit handle(T *h) noexcept : h_(h) {}
    handle(handle &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    handle &operator=(handle &&o) noexcept
    {
        if (this != &o) {
            close();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    ~handle() { close(); }
    void close() noexcept
    {
        if (h_)
            Close(std::exchange(h_, nullptr));
    }
    T *get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }

protected:
    T *h_ = nullptr;
};

inline int ms(std::chrono::milliseconds t) noexcept
{
    auto c = t.count();
    return c < 0 ? -1 : c > 0x7fffffff ? 0x7fffffff : static_cast<int>(c);
}
} // namespace detail

/// nr_capture_config with the library defaults already filled in.
struct capture_config : nr_capture_config {
    capture_config() noexcept : nr_capture_config() { nr_capture_config_init(this, sizeof(nr_capture_config)); }
    capture_config &profile(nr_profile p)
    {
        detail::check(nr_capture_config_apply_profile(this, p));
        return *this;
    }
};

/// An AF_PACKET TPACKET_V3 capture. Move-only; closes itself.
class capture : public detail::handle<nr_capture, nr_capture_close> {
public:
    capture() noexcept = default;
    explicit capture(nr_capture *c) noexcept : handle(c) {}

    /// Open on `ifname` (throws netring::error with the library's sentence).
    static capture open(const std::string &ifname, const nr_capture_config &cfg = capture_config())
    {
        nr_capture *c = nullptr;
        detail::check(nr_capture_open(ifname.c_str(), &cfg, &c));
        return capture(c);
    }
    static int try_open(const char *ifname, const nr_capture_config *cfg, capture &out) noexcept
    {
        nr_capture *c = nullptr;
        int rc = nr_capture_open(ifname, cfg, &c);
        if (rc == NR_OK)
            out = capture(c);
        return rc;
    }

    /// Wait up to `timeout` (negative: no limit) for the next batch into
    /// `out` (any batch it held is released first). Returns status::ok,
    /// timeout, break_requested or iface_down; throws on errors.
    status next_batch(batch &out, std::chrono::milliseconds timeout = std::chrono::milliseconds(-1))
    {
        return detail::check(try_next_batch(out, timeout));
    }
    int try_next_batch(batch &out, std::chrono::milliseconds timeout) noexcept
    {
        out = batch();
        nr_batch *b = nullptr;
        int rc = nr_next_batch(h_, detail::ms(timeout), &b);
        if (rc == NR_OK)
            out = batch(b);
        return rc;
    }

    /// Lifetime totals.
    nr_capture_stats stats()
    {
        nr_capture_stats t{};
        detail::check(nr_capture_get_stats(h_, &t, nullptr));
        return t;
    }
    /// Totals and the change since the previous call.
    void stats(nr_capture_stats &total, nr_capture_stats &delta)
    {
        detail::check(nr_capture_get_stats(h_, &total, &delta));
    }
    nr_capture_info info() const
    {
        nr_capture_info i{};
        detail::check(nr_capture_get_info(h_, &i));
        return i;
    }
    /// Make the current or next wait return status::break_requested. Safe
    /// from any thread and from a signal handler, while the handle is open.
    void breakloop() const noexcept { nr_capture_breakloop(h_); }
    /// The pollable socket fd (owned by the handle).
    int fd() const noexcept { return nr_capture_fd(h_); }
    /// Replace the classic BPF filter (empty: capture everything).
    void set_filter(const nr_bpf_insn *insns, std::size_t n) { detail::check(nr_capture_set_filter(h_, insns, n)); }
    template <typename C> void set_filter(const C &prog) { set_filter(std::data(prog), std::size(prog)); }
    void clear_filter() { set_filter(nullptr, 0); }
};

/// nr_writer_config with defaults.
struct writer_config : nr_writer_config {
    writer_config() noexcept : nr_writer_config() { nr_writer_config_init(this, sizeof(nr_writer_config)); }
};

/// A pcap/pcapng reader. Move-only; closes itself.
class reader : public detail::handle<nr_reader, nr_reader_close> {
public:
    reader() noexcept = default;
    explicit reader(nr_reader *r) noexcept : handle(r) {}
    static reader open(const std::string &path)
    {
        nr_reader *r = nullptr;
        detail::check(nr_reader_open(path.c_str(), &r));
        return reader(r);
    }
    /// status::ok (a batch in `out`) or status::eof; throws on errors.
    status next_batch(batch &out) { return detail::check(try_next_batch(out)); }
    int try_next_batch(batch &out) noexcept
    {
        out = batch();
        nr_batch *b = nullptr;
        int rc = nr_reader_next_batch(h_, &b);
        if (rc == NR_OK)
            out = batch(b);
        return rc;
    }
    nr_reader_info info() const
    {
        nr_reader_info i{};
        detail::check(nr_reader_get_info(h_, &i));
        return i;
    }
};

namespace detail {
inline void writer_close(nr_writer *w) { nr_writer_close(w); }
} // namespace detail

/// A pcap/pcapng writer. Move-only; the destructor closes it ignoring
/// errors: call close() to learn whether the last write succeeded.
class writer : public detail::handle<nr_writer, detail::writer_close> {
public:
    writer() noexcept = default;
    explicit writer(nr_writer *w) noexcept : handle(w) {}
    static writer open(const std::string &path, nr_format format = NR_FORMAT_PCAP,
                       const nr_writer_config &cfg = writer_config())
    {
        nr_writer *w = nullptr;
        detail::check(nr_writer_open(path.c_str(), format, &cfg, &w));
        return writer(w);
    }
    void write(batch &b) { detail::check(nr_writer_write_batch(h_, b.get())); }
    void write(const packet &p) { detail::check(nr_writer_write_packet(h_, &p.raw())); }
    void write(const nr_packet &p) { detail::check(nr_writer_write_packet(h_, &p)); }
    void set_stats(std::uint64_t received, std::uint64_t dropped)
    {
        detail::check(nr_writer_set_stats(h_, received, dropped));
    }
    void flush() { detail::check(nr_writer_flush(h_)); }
    nr_writer_stats stats()
    {
        nr_writer_stats t{};
        detail::check(nr_writer_get_stats(h_, &t, nullptr));
        return t;
    }
    /// Finish the file; throws if the last write failed. The handle is gone
    /// afterwards in every case.
    void close() { detail::check(nr_writer_close(std::exchange(h_, nullptr))); }
};

/// nr_injector_config with defaults.
struct injector_config : nr_injector_config {
    injector_config() noexcept : nr_injector_config() { nr_injector_config_init(this, sizeof(nr_injector_config)); }
};

/// Sending frames. Move-only; closes itself (one flush).
class injector : public detail::handle<nr_injector, nr_injector_close> {
public:
    injector() noexcept = default;
    explicit injector(nr_injector *i) noexcept : handle(i) {}
    static injector open(const std::string &ifname, const nr_injector_config &cfg = injector_config())
    {
        nr_injector *i = nullptr;
        detail::check(nr_injector_open(ifname.c_str(), &cfg, &i));
        return injector(i);
    }
    /// Copy one frame into a slot and queue it: status::ok or timeout.
    status inject(const std::uint8_t *data, std::size_t len) { return detail::check(nr_inject(h_, data, len)); }
    status inject(bytes_view frame) { return inject(frame.data(), frame.size()); }
    template <typename C> status inject(const C &frame) { return inject(std::data(frame), std::size(frame)); }
    void flush() { detail::check(nr_injector_flush(h_)); }
    /// status::ok (drained) or timeout.
    status wait_drained(std::chrono::milliseconds timeout)
    {
        return detail::check(nr_injector_wait_drained(h_, detail::ms(timeout)));
    }
    nr_injector_stats stats()
    {
        nr_injector_stats t{};
        detail::check(nr_injector_get_stats(h_, &t, nullptr));
        return t;
    }
    nr_injector_info info() const
    {
        nr_injector_info i{};
        detail::check(nr_injector_get_info(h_, &i));
        return i;
    }
};

/// nr_xdp_config with defaults.
struct xdp_config : nr_xdp_config {
    xdp_config() noexcept : nr_xdp_config() { nr_xdp_config_init(this, sizeof(nr_xdp_config)); }
};

/// AF_XDP sockets over one UMEM. Move-only; closes itself.
class xdp : public detail::handle<nr_xdp, nr_xdp_close> {
public:
    xdp() noexcept = default;
    explicit xdp(nr_xdp *x) noexcept : handle(x) {}
    static xdp open(const std::string &ifname, std::uint32_t queue, const nr_xdp_config &cfg = xdp_config())
    {
        nr_xdp *x = nullptr;
        detail::check(nr_xdp_open(ifname.c_str(), queue, &cfg, &x));
        return xdp(x);
    }
    static xdp open_all(const std::string &ifname, const nr_xdp_config &cfg = xdp_config())
    {
        nr_xdp *x = nullptr;
        detail::check(nr_xdp_open_all(ifname.c_str(), &cfg, &x));
        return xdp(x);
    }
    status next_batch(batch &out, std::chrono::milliseconds timeout = std::chrono::milliseconds(-1))
    {
        out = batch();
        nr_batch *b = nullptr;
        int rc = nr_xdp_next_batch(h_, detail::ms(timeout), &b);
        detail::check(rc);
        if (rc == NR_OK)
            out = batch(b);
        return static_cast<status>(rc);
    }
    /// Copy and queue frames; returns how many were queued (fewer when
    /// every TX frame is in flight).
    std::size_t send(const nr_frame *frames, std::size_t n)
    {
        int rc = nr_xdp_send(h_, frames, n);
        detail::check(rc);
        return static_cast<std::size_t>(rc);
    }
    void flush(std::chrono::milliseconds timeout) { detail::check(nr_xdp_flush(h_, detail::ms(timeout))); }
    nr_xdp_stats stats()
    {
        nr_xdp_stats t{};
        detail::check(nr_xdp_get_stats(h_, &t, nullptr));
        return t;
    }
    nr_xdp_info info() const
    {
        nr_xdp_info i{};
        detail::check(nr_xdp_get_info(h_, &i));
        return i;
    }
    void breakloop() const noexcept { nr_xdp_breakloop(h_); }
    int fd() const noexcept { return nr_xdp_fd(h_); }
};

/// The library's version at run time ("MAJOR.MINOR.PATCH").
inline const char *version() noexcept { return nr_version(); }

} // namespace netring

namespace std {
template <> struct is_error_code_enum<netring::status> : true_type {};
} // namespace std

#endif // NETRING_HPP
