/**
 * The security pieces an API node or a worker runs with, made from the configuration and the
 * store: the keyring (API keys, briefly cached), whether the server is shared, and the labels
 * metrics show endpoints under.
 *
 * A server is *shared* while API keys exist, or while it listens beyond loopback (where it wants
 * keys even before one exists). Shared, it refuses user-supplied endpoints on private addresses
 * and shows coarse endpoint labels in metrics; alone, it behaves as a single-user tool.
 */
import type { Config } from '../config/config.js';
import type { Store } from '../engine/contracts.js';
import { createKeyring, type Keyring } from '../security/api-keys.js';
import { isLoopbackHost } from '../security/bind.js';

export interface Security {
  keyring: Keyring;
  /** API calls want a key even while none exists. */
  requireKeys: boolean;
  /** Whether the server is shared now (see above): the SSRF guard applies while it is (see engine-node.ts). */
  shared(): Promise<boolean>;
  /** The metrics label of an endpoint: its own alone, `provider` or `external` when shared. */
  endpointLabel(label: string): string;
}

export function createSecurity(
  config: Pick<Config, 'host' | 'insecureNoAuth' | 'apiKeyCacheMs' | 'providerBaseUrl'>,
  store: Pick<Store, 'findApiKey' | 'hasApiKeys'>,
  opts: { serving: boolean; onSharedChange?: () => void },
): Security {
  const keyring = createKeyring(store, { ttlMs: config.apiKeyCacheMs });
  const requireKeys = opts.serving && !isLoopbackHost(config.host) && !config.insecureNoAuth;
  const shared = async () => requireKeys || (await keyring.keysExist());
  const providerSuffix = ` at ${config.providerBaseUrl}`;
  let lastShared: boolean | undefined;
  return {
    keyring,
    requireKeys,
    shared,
    endpointLabel(label) {
      const now = requireKeys || keyring.keysExistNow();
      if (lastShared !== undefined && now !== lastShared) opts.onSharedChange?.();
      lastShared = now;
      if (!now) return label;
      return label.endsWith(providerSuffix) ? 'provider' : 'external';
    },
  };
}
