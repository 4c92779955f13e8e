import CosciModel
import Foundation

/// The canonical JSON of the commands that act (`--json`): what `publish`, `release`, `assemble` and `verify`
/// did, one document each, for scripts and CI steps. (`build --json` is the run report's document.)
public enum CommandDocuments {
    public static let publishSchema = "cosci.publish/v1"
    public static let releaseSchema = "cosci.release/v1"
    public static let assembleSchema = "cosci.assemble/v1"
    public static let verifySchema = "cosci.verify/v1"

    public static func publish(_ r: PublishReport) -> Value {
        .map([
            "schema": .string(publishSchema), "target": .string(r.target), "revision": .int(r.revision), "images": .int(r.images),
            "blobs": .map([
                "uploaded": .int(r.blobsUploaded), "skipped": .int(r.blobsSkipped), "mounted": .int(r.blobsMounted),
                "bytesUploaded": .int(Int(r.bytesUploaded)),
            ]),
            "tags": .map(["set": .int(r.tagsSet), "unchanged": .int(r.tagsUnchanged)]),
            "kept": .list(r.kept.map(Value.string)), "replaced": .list(r.replaced.map(Value.string)),
        ])
    }

    public static func release(_ r: ReleaseResult, rollback: Bool) -> Value {
        .map([
            "schema": .string(releaseSchema), "channel": .string(r.channel), "id": .string(r.id), "target": .string(r.target),
            "action": .string(rollback ? "rollback" : "release"), "revision": .int(r.revision), "pointer": .string(r.pointer.description),
            "previous": r.previous.map(Value.string) ?? .null,
            "changes": .list(
                r.changes.map { c in
                    .map(["kind": .string(c.kind.rawValue), "id": .string(c.id.description), "sha256": .string(c.sha256.description)])
                }),
            "notes": r.notes.map(Value.string) ?? .null, "repositoryFile": r.repositoryFile.map(Value.string) ?? .null,
        ])
    }

    public static func assemble(_ images: [AssembledImage]) -> Value {
        .map([
            "schema": .string(assembleSchema),
            "images": .list(
                images.map { i in
                    .map([
                        "name": .string(i.name), "version": .string(i.version), "digest": .string(i.digest.description),
                        "layers": .int(i.layers), "platforms": .int(i.platforms), "layout": .string(i.layout),
                        "pushed": i.pushed.map(Value.string) ?? .null, "iso": i.iso.map { .string($0.path) } ?? .null,
                        "isoDigest": i.iso.map { .string($0.sha256.description) } ?? .null,
                        "disk": i.disk.map { .string($0.path) } ?? .null,
                        "diskDigest": i.disk.map { .string($0.sha256.description) } ?? .null,
                    ])
                }),
        ])
    }

    public static func verify(_ outcomes: [VerifyOutcome]) -> Value {
        .map([
            "schema": .string(verifySchema),
            "reproducible": .int(outcomes.filter { $0.status == .reproducible }.count),
            "packages": .list(
                outcomes.map { v in
                    .map([
                        "id": .string(v.id.description), "status": .string(v.status.rawValue),
                        "cached": v.cached.map { .string($0.description) } ?? .null,
                        "rebuilt": v.rebuilt.map { .string($0.description) } ?? .null,
                        "differences": .list(v.differences.map(Value.string)), "message": v.message.map(Value.string) ?? .null,
                    ])
                }),
        ])
    }
}
