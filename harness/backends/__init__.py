"""World backends: what stands for the chip (QEMU today; pyOCD and cocotb plug in the same way)."""
