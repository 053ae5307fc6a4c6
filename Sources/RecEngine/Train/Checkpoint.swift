import Foundation
import Glibc

/// Why a checkpoint could not be written or restored; every case names the file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The directory has no checkpoint (its `checkpoint` index file is missing) or the file is missing.
    case missing(path: String, reason: String)
    /// The file is not a checkpoint, is truncated, or fails its checksum.
    case corrupted(path: String, reason: String)
    /// The checkpoint belongs to another model, data set, build or parameter shapes.
    case mismatched(path: String, reason: String)
    /// A read or write failed (`errno` text).
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let p, let r): "checkpoint \(p): missing: \(r)"
        case .corrupted(let p, let r): "checkpoint \(p): corrupted: \(r)"
        case .mismatched(let p, let r): "checkpoint \(p): does not match this model: \(r)"
        case .io(let p, let r): "checkpoint \(p): \(r)"
        }
    }
}

/// Engine checkpoints: every parameter of a model and every optimizer slot attached to it (Adam
/// `m`/`v`, Adagrad accumulators, the sparse tables' per-row state), plus the global step (the
/// optimizers' step counter: Adam's bias correction restarts from it).
///
/// A directory holds `model-<step>.rtck` files and a one-line `checkpoint` index naming the
/// latest (like TensorFlow's `checkpoint` file); a save writes a temporary file, fsyncs it and
/// renames it into place, then rewrites the index the same way, then removes older files, so a
/// crash at any point leaves the previous checkpoint readable.
///
/// File layout (little-endian): magic `RTCKPT01`; UInt64 header length; the header (JSON:
/// format version, model, data set, global step, oneDNN ISA, and per tensor its name, shape,
/// float count and slots); the floats of each tensor followed by its slots, in header order; a
/// UInt64 checksum over everything before it. Values are stored in the engine's own layout
/// (oneDNN-blocked weights as they are), so a checkpoint restores into the same engine build on
/// the same ISA — the header records the ISA and a restore elsewhere is refused. The header also
/// records each dense weight tensor's layout (`ParameterTensor.layout`): a tensor saved as `ab`
/// restores into a `ba` one and back (values and slots transposed; `weight_layout: timed` may choose
/// differently in the resumed process), any other change of layout is refused. Files written
/// before layouts were recorded have none and restore as they are.
public enum Checkpoint {
    /// The file format version this build writes and reads.
    public static let formatVersion = 1
    static let magic = Array("RTCKPT01".utf8)
    /// The index file naming the latest checkpoint of a directory.
    public static let indexName = "checkpoint"

    /// The header of a checkpoint file.
    public struct Header: Codable, Equatable, Sendable {
        public struct SlotEntry: Codable, Equatable, Sendable { public var name: String; public var count: Int }
        public struct TensorEntry: Codable, Equatable, Sendable {
            public var name: String
            public var rows: Int
            public var columns: Int
            public var count: Int
            public var slots: [SlotEntry]
            /// `ParameterTensor.layout`; absent for row-major tensors and in older files.
            public var layout: String? = nil

            /// The plain layouts a restore converts between (transposing values and slots).
            static let transposable: Set<String> = ["ab", "ba"]

            /// Whether a tensor saved as `self` restores into `wanted`: the same name, shape and
            /// slot names, and either the same layout and counts or the other plain layout (every
            /// slot then the size of the weights, since it is transposed with them).
            func restores(into wanted: TensorEntry) -> Bool {
                guard name == wanted.name, rows == wanted.rows, columns == wanted.columns,
                      slots.map(\.name) == wanted.slots.map(\.name) else { return false }
                if layout == nil || wanted.layout == nil || layout == wanted.layout {
                    return count == wanted.count && slots == wanted.slots
                }
                return Self.transposable.contains(layout!) && Self.transposable.contains(wanted.layout!)
                    && count == rows * columns && wanted.count == count && slots == wanted.slots
                    && slots.allSatisfy { $0.count == count }
            }

            /// Whether restoring `self` into `wanted` transposes the values.
            func transposes(into wanted: TensorEntry) -> Bool {
                layout != nil && wanted.layout != nil && layout != wanted.layout
            }
        }
        public var formatVersion: Int
        public var model: String
        public var dataset: String
        public var globalStep: Int
        public var onednnISA: String
        public var tensors: [TensorEntry]

        enum CodingKeys: String, CodingKey {
            case model, dataset, tensors
            case formatVersion = "format_version", globalStep = "global_step", onednnISA = "onednn_isa"
        }

        init(model: String, dataset: String, globalStep: Int, parameters: [ParameterTensor]) {
            formatVersion = Checkpoint.formatVersion
            self.model = model
            self.dataset = dataset
            self.globalStep = globalStep
            onednnISA = OneDNNInfo.isa
            tensors = parameters.map { p in
                TensorEntry(name: p.name, rows: p.rows, columns: p.columns, count: p.count,
                            slots: p.slots.map { SlotEntry(name: $0.name, count: $0.count) }, layout: p.layout)
            }
        }
    }

    /// The buffers of `parameters` in file order: each tensor's values, then its slots.
    static func buffers(_ parameters: [ParameterTensor]) -> [(pointer: UnsafeMutablePointer<Float>, count: Int)] {
        parameters.flatMap { p in [(p.values, p.count)] + p.slots.map { ($0.pointer, $0.count) } }
    }

    /// Writes a checkpoint of `parameters` at `globalStep` into `directory` (created if missing)
    /// and returns its path. Throws `CheckpointError.io`.
    @discardableResult
    public static func save(model: String, dataset: String, globalStep: Int, parameters: [ParameterTensor],
                            to directory: String) throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.io(path: directory, reason: "cannot create the directory: \(error.localizedDescription)")
        }
        let name = "model-\(globalStep).rtck"
        let path = (directory as NSString).appendingPathComponent(name)
        let header = try JSONEncoder().encode(Header(model: model, dataset: dataset, globalStep: globalStep, parameters: parameters))
        let temporary = path + ".tmp-\(getpid())"
        guard let file = fopen(temporary, "wb") else { throw CheckpointError.io(path: temporary, reason: "fopen: \(String(cString: strerror(errno)))") }
        var hash = Checksum()
        func write(_ p: UnsafeRawPointer, _ bytes: Int) throws {
            hash.add(p, bytes)
            if bytes > 0, fwrite(p, 1, bytes, file) != bytes {
                let reason = String(cString: strerror(errno))
                fclose(file); unlink(temporary)
                throw CheckpointError.io(path: temporary, reason: "fwrite: \(reason)")
            }
        }
        var length = UInt64(header.count).littleEndian
        try magic.withUnsafeBytes { try write($0.baseAddress!, $0.count) }
        try withUnsafeBytes(of: &length) { try write($0.baseAddress!, 8) }
        try header.withUnsafeBytes { try write($0.baseAddress!, $0.count) }
        for b in buffers(parameters) { try write(UnsafeRawPointer(b.pointer), b.count * MemoryLayout<Float>.stride) }
        var sum = hash.value.littleEndian
        let ok = withUnsafeBytes(of: &sum) { fwrite($0.baseAddress!, 1, 8, file) == 8 } && fflush(file) == 0 && fsync(fileno(file)) == 0
        let reason = String(cString: strerror(errno))
        fclose(file)
        guard ok else { unlink(temporary); throw CheckpointError.io(path: temporary, reason: "write: \(reason)") }
        guard rename(temporary, path) == 0 else {
            let r = String(cString: strerror(errno)); unlink(temporary)
            throw CheckpointError.io(path: path, reason: "rename: \(r)")
        }
        try writeIndex(directory: directory, name: name)
        // Older checkpoints of this directory go once the index names the new one.
        for old in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where old != name && old.hasPrefix("model-") && old.hasSuffix(".rtck") {
            unlink((directory as NSString).appendingPathComponent(old))
        }
        return path
    }

    private static func writeIndex(directory: String, name: String) throws {
        let index = (directory as NSString).appendingPathComponent(indexName)
        do {
            try Data("\(name)\n".utf8).write(to: URL(fileURLWithPath: index), options: .atomic)
        } catch {
            throw CheckpointError.io(path: index, reason: "cannot write the index: \(error.localizedDescription)")
        }
    }

    /// The checkpoint file `location` designates: the file itself, or the one a directory's index names.
    /// Throws `CheckpointError.missing`.
    public static func resolve(_ location: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory) else {
            throw CheckpointError.missing(path: location, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else { return location }
        let index = (location as NSString).appendingPathComponent(indexName)
        guard let text = try? String(contentsOfFile: index, encoding: .utf8) else {
            throw CheckpointError.missing(path: index, reason: "the directory has no checkpoint index (nothing was saved there)")
        }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let path = (location as NSString).appendingPathComponent(name)
        guard !name.isEmpty, !name.contains("/"), FileManager.default.fileExists(atPath: path) else {
            throw CheckpointError.missing(path: path, reason: "named by \(index) but not there")
        }
        return path
    }

    /// Reads the header of the checkpoint at `location` (a file or a directory). Throws `CheckpointError`.
    public static func header(at location: String) throws -> Header {
        let path = try resolve(location)
        guard let file = fopen(path, "rb") else { throw CheckpointError.io(path: path, reason: "fopen: \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var hash = Checksum()
        return try readHeader(file, path: path, hash: &hash)
    }

    private static func readHeader(_ file: UnsafeMutablePointer<FILE>, path: String, hash: inout Checksum) throws -> Header {
        var prefix = [UInt8](repeating: 0, count: 16)
        guard fread(&prefix, 1, 16, file) == 16 else { throw CheckpointError.corrupted(path: path, reason: "shorter than its 16-byte prefix") }
        guard Array(prefix[0..<8]) == magic else { throw CheckpointError.corrupted(path: path, reason: "not a rectune checkpoint (bad magic)") }
        prefix.withUnsafeBytes { hash.add($0.baseAddress!, 16) }
        let length = prefix[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length > 0, length < 1 << 30 else { throw CheckpointError.corrupted(path: path, reason: "header length \(length) out of range") }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        guard fread(&bytes, 1, bytes.count, file) == bytes.count else { throw CheckpointError.corrupted(path: path, reason: "truncated in the header") }
        bytes.withUnsafeBytes { hash.add($0.baseAddress!, $0.count) }
        do {
            return try JSONDecoder().decode(Header.self, from: Data(bytes))
        } catch {
            throw CheckpointError.corrupted(path: path, reason: "the header does not decode: \(error)")
        }
    }

    /// Restores `parameters` (and their optimizer slots) from the checkpoint at `location` (a file, or
    /// a directory whose index names one) and returns its global step. The header must match the
    /// model, data set, ISA and every tensor's name, shape and slots; the checksum must match.
    /// Throws `CheckpointError` naming the file.
    public static func restore(from location: String, model: String, dataset: String, parameters: [ParameterTensor]) throws -> Int {
        let path = try resolve(location)
        guard let file = fopen(path, "rb") else { throw CheckpointError.io(path: path, reason: "fopen: \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var hash = Checksum()
        let header = try readHeader(file, path: path, hash: &hash)
        guard header.formatVersion == formatVersion else {
            throw CheckpointError.mismatched(path: path, reason: "format version \(header.formatVersion), this build reads \(formatVersion)")
        }
        guard header.model == model, header.dataset == dataset else {
            throw CheckpointError.mismatched(path: path, reason: "saved by model \(header.model) on \(header.dataset), restoring into \(model) on \(dataset)")
        }
        guard header.onednnISA == OneDNNInfo.isa else {
            throw CheckpointError.mismatched(path: path, reason: "saved with oneDNN ISA \(header.onednnISA) (weights in its layout), this run uses \(OneDNNInfo.isa)")
        }
        let expected = Header(model: model, dataset: dataset, globalStep: header.globalStep, parameters: parameters)
        guard header.tensors.count == expected.tensors.count else {
            throw CheckpointError.mismatched(path: path, reason: "\(header.tensors.count) tensors saved, the model has \(expected.tensors.count)")
        }
        for (saved, wanted) in zip(header.tensors, expected.tensors) where !saved.restores(into: wanted) {
            func layout(_ e: Header.TensorEntry) -> String { e.layout.map { ", layout \($0)" } ?? "" }
            let hint = saved.layout != nil && wanted.layout != nil && saved.layout != wanted.layout
                ? " (only the plain layouts ab and ba convert into each other: resume with the weight_layout it was saved under)" : ""
            throw CheckpointError.mismatched(path: path, reason: "tensor \(wanted.name) is \(wanted.rows)×\(wanted.columns) (\(wanted.count) floats, slots \(wanted.slots.map(\.name))\(layout(wanted))); saved \(saved.name) \(saved.rows)×\(saved.columns) (\(saved.count) floats, slots \(saved.slots.map(\.name))\(layout(saved)))\(hint)")
        }
        // Read into scratch first: a corrupted file must leave the parameters untouched.
        let targets = buffers(parameters)
        let total = targets.reduce(0) { $0 + $1.count }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(total, 1))
        defer { scratch.deallocate() }
        var offset = 0
        for t in targets {
            let bytes = t.count * MemoryLayout<Float>.stride
            guard fread(scratch + offset, 1, bytes, file) == bytes else {
                throw CheckpointError.corrupted(path: path, reason: "truncated in the tensor data")
            }
            hash.add(UnsafeRawPointer(scratch + offset), bytes)
            offset += t.count
        }
        var stored: UInt64 = 0
        guard fread(&stored, 1, 8, file) == 8 else { throw CheckpointError.corrupted(path: path, reason: "truncated before its checksum") }
        guard fgetc(file) == EOF else { throw CheckpointError.corrupted(path: path, reason: "trailing bytes after the checksum") }
        guard UInt64(littleEndian: stored) == hash.value else {
            throw CheckpointError.corrupted(path: path, reason: String(format: "checksum mismatch (stored %016llx, computed %016llx)", UInt64(littleEndian: stored), hash.value))
        }
        offset = 0
        for (p, (saved, wanted)) in zip(parameters, zip(header.tensors, expected.tensors)) {
            let transpose = saved.transposes(into: wanted)
            for t in buffers([p]) {
                if transpose {
                    // Saved `ab` is rows × columns row-major and `ba` columns × rows; write the other.
                    let (r, c) = saved.layout == "ab" ? (p.rows, p.columns) : (p.columns, p.rows)
                    let source = scratch + offset
                    for i in 0..<r { for j in 0..<c { t.pointer[j * r + i] = source[i * c + j] } }
                } else {
                    t.pointer.update(from: scratch + offset, count: t.count)
                }
                offset += t.count
            }
        }
        for p in parameters { p.didReload() }
        return header.globalStep
    }
}

/// A 64-bit checksum over a byte stream, taken in 8-byte words (multiply–xorshift mixing; an
/// error check, not a cryptographic hash). Chunks of any size give the same value as one pass.
struct Checksum {
    private(set) var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var pending: UInt64 = 0
    private var pendingBytes = 0
    private var length: UInt64 = 0

    @inline(__always) private mutating func mix(_ w: UInt64) {
        state = (state ^ w) &* 0xFF51_AFD7_ED55_8CCD
        state ^= state >> 29
    }

    mutating func add(_ p: UnsafeRawPointer, _ bytes: Int) {
        length &+= UInt64(bytes)
        var i = 0
        while i < bytes && pendingBytes != 0 {
            pending |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << (8 * UInt64(pendingBytes))
            pendingBytes += 1; i += 1
            if pendingBytes == 8 { mix(pending); pending = 0; pendingBytes = 0 }
        }
        while i + 8 <= bytes {
            mix(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        while i < bytes {
            pending |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << (8 * UInt64(pendingBytes))
            pendingBytes += 1; i += 1
        }
    }

    var value: UInt64 {
        var copy = self
        if copy.pendingBytes > 0 { copy.mix(copy.pending) }
        copy.mix(length)
        return copy.state
    }
}
