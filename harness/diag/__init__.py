"""CAN, ISO-TP and UDS for diagnostics tests: python-can's ``slcan`` interface, can-isotp and
udsoncan, wired for a chip's SLCAN channel (an emulator's serial socket or a USB adapter).

Nothing heavy is imported here: python-can, can-isotp and udsoncan load when a bus is opened.
"""
