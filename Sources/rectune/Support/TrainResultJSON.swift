import Foundation
import RecContract
import RecEngine

/// The `train --json` object, with non-finite numbers encoded as `null` plus a reason
/// (`"auc": null, "auc_unavailable": "…"`) instead of failing the whole run with an EncodingError
/// after training (e.g. an evaluation slice with one class makes AUC undefined).
enum TrainResultJSON {
    /// A string no real value takes; non-finite numbers are encoded as it, then replaced.
    private static let marker = "\u{1}rectune-non-finite"

    /// Encodes `result` (sorted keys, pretty-printed). With a non-finite number, the encoded text
    /// is read back exactly (`ExactJSON`), so every other number keeps its bits.
    static func encode(_ result: TrainResult) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: marker, negativeInfinity: marker, nan: marker)
        let data = try encoder.encode(result)
        guard String(decoding: data, as: UTF8.self).contains(marker.dropFirst()),
              var object = try ExactJSON.value(with: data) as? [String: Any] else { return data }
        object = replacing(object, result: result, path: "")
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    }

    private static func replacing(_ object: [String: Any], result: TrainResult, path: String) -> [String: Any] {
        var out = object
        for (key, value) in object {
            if let s = value as? String, s == marker {
                out[key] = NSNull()
                out[key + TrainResult.unavailableSuffix] = reason(path + key, result)
            } else if let nested = value as? [String: Any] {
                out[key] = replacing(nested, result: result, path: path + key + ".")
            }
        }
        return out
    }

    private static func reason(_ key: String, _ r: TrainResult) -> String {
        switch key {
        case "auc" where r.evalRows == 0: "no evaluation rows (every held-out row was malformed or --eval-rows is 0)"
        case "auc" where !r.logloss.isFinite: "not finite: the model's scores are not finite (training diverged)"
        case "auc": "undefined: the evaluation rows hold one class only (AUC needs positives and negatives)"
        case "logloss" where r.evalRows == 0: "no evaluation rows"
        case "logloss", "train_loss_first", "train_loss_last": "not finite: training diverged (check --lr)"
        default: "not a finite number"
        }
    }
}
