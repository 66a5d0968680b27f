-- 文书编号: unique province-wide though assigned offline. The server hands each device blocks
-- of consecutive serials per (kind, year) while it is online; a pushed record may only use a
-- number from a block of its own device, and each number belongs to one record forever.
CREATE TABLE document_serials (
    kind TEXT NOT NULL,
    year INTEGER NOT NULL,
    -- The next serial not yet handed out.
    next INTEGER NOT NULL,
    PRIMARY KEY (kind, year)
);
CREATE TABLE document_number_blocks (
    kind      TEXT NOT NULL,
    year      INTEGER NOT NULL,
    first     INTEGER NOT NULL,
    last      INTEGER NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices(id),
    issued_at TEXT NOT NULL,
    PRIMARY KEY (kind, year, first)
);
CREATE INDEX document_number_blocks_device ON document_number_blocks(device_id);
CREATE TABLE document_numbers (
    kind      TEXT NOT NULL,
    year      INTEGER NOT NULL,
    serial    INTEGER NOT NULL,
    record_id TEXT NOT NULL REFERENCES records(id),
    version   INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    used_at   TEXT NOT NULL,
    PRIMARY KEY (kind, year, serial)
);
CREATE INDEX document_numbers_record ON document_numbers(record_id);
