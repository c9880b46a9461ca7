/** Advisory lock keys (arbitrary constants, "SB" + purpose) so that nodes sharing a database take the same locks. */
export const MIGRATE_LOCK = 0x5342_4d49; // "SBMI"
export const APPEND_LOCK = 0x5342_4150; // "SBAP"
export const PARTITION_LOCK = 0x5342_5041; // "SBPA"
export const DROP_LOCK = 0x5342_4452; // "SBDR"
export const ROLLUP_LOCK = 0x5342_524f; // "SBRO"
