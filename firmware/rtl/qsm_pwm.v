// QSM motor PWM controller: one complementary half-bridge channel with dead time and a
// hardware fault shutdown. APB4 slave (byte strobes), 4 KiB window.
//
// Register map (offsets; the CMSIS-SVD file targets/svd/qsm_periph.svd is the reference):
//   0x00 CTRL     [0] EN              rw  counter runs, outputs driven
//   0x04 PERIOD   [15:0]              rw  period in clock cycles (>= 2); shadowed
//   0x08 DUTY     [15:0]              rw  high-side interval in cycles, dead time included; shadowed
//   0x0C DEADTIME [7:0]               rw  cycles both outputs stay off around each switch
//   0x10 STATUS   [0] FAULT  w1c      fault latched (outputs forced off until cleared)
//                 [1] PERIOD w1c      a period started
//                 [8] FAULT_IN ro     synchronized fault input level
//                 [9] RUN      ro     counter running
//   0x14 IE       [0] FAULT [1] PERIOD  rw  interrupt enables
//   0x18 COUNT    [15:0]              ro  period counter
//   0x1C ID                           ro  0x51504D01
//
// PERIOD and DUTY writes take effect at the start of the next period (or at once while EN=0).
// Outputs: pwm_h is on for counter in [DEADTIME, DUTY), pwm_l for [DUTY+DEADTIME, PERIOD).
// Safety: 'fault' (active high, asynchronous) turns both outputs off at most FAULT_LATENCY = 3
// clock cycles after it rises (two synchronizer stages + the output register), whatever the
// register state; they stay off until STATUS.FAULT is cleared with the input inactive.
`default_nettype none

module qsm_pwm (
    input  wire        clk,
    input  wire        rst_n,
    // APB4
    input  wire        psel,
    input  wire        penable,
    input  wire        pwrite,
    input  wire [11:0] paddr,
    input  wire [31:0] pwdata,
    input  wire [3:0]  pstrb,
    output reg  [31:0] prdata,   // registered in the setup phase
    output wire        pready,
    output reg         pslverr,
    // pins
    input  wire        fault,
    output reg         pwm_h,
    output reg         pwm_l,
    output wire        irq
);
    localparam [31:0] ID_VALUE = 32'h51504D01;

    reg        en;
    reg [15:0] period, duty;          // programmed values
    reg [15:0] period_sh, duty_sh;    // values in use this period
    reg [7:0]  deadtime;
    reg        st_fault, st_period;
    reg [1:0]  ie;
    reg [15:0] count;
    reg [1:0]  fault_sync;

    assign pready = 1'b1;
    wire access = psel & penable;
    wire wr = access & pwrite;
    wire fault_now = fault_sync[1];

    function [31:0] merge(input [31:0] cur, input [31:0] wdat, input [3:0] strb);
        merge = {strb[3] ? wdat[31:24] : cur[31:24], strb[2] ? wdat[23:16] : cur[23:16],
                 strb[1] ? wdat[15:8] : cur[15:8], strb[0] ? wdat[7:0] : cur[7:0]};
    endfunction

    wire [31:0] w_ctrl   = merge({31'b0, en}, pwdata, pstrb);
    wire [31:0] w_period = merge({16'b0, period}, pwdata, pstrb);
    wire [31:0] w_duty   = merge({16'b0, duty}, pwdata, pstrb);
    wire [31:0] w_dt     = merge({24'b0, deadtime}, pwdata, pstrb);
    wire [31:0] w_ie     = merge({30'b0, ie}, pwdata, pstrb);
    wire [31:0] w_status = pwdata & {{4{pstrb[3]}}, {8{pstrb[2]}}, {8{pstrb[1]}}, {8{pstrb[0]}}} ;

    wire last = (count >= period_sh - 16'd1) | (period_sh < 16'd2);
    wire [16:0] l_on = {1'b0, duty_sh} + {9'b0, deadtime};

    // Register writes
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            en <= 1'b0; period <= 16'd1000; duty <= 16'd0; deadtime <= 8'd0; ie <= 2'b0;
        end else if (wr) begin
            case (paddr[11:2])
                10'h000: en <= w_ctrl[0];
                10'h001: period <= w_period[15:0];
                10'h002: duty <= w_duty[15:0];
                10'h003: deadtime <= w_dt[7:0];
                10'h005: ie <= w_ie[1:0];
                default: ;
            endcase
        end
    end

    // Fault input synchronizer and latch
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) fault_sync <= 2'b00;
        else fault_sync <= {fault_sync[0], fault};
    end

    wire clr_fault = wr && paddr[11:2] == 10'h004 && w_status[0];
    wire clr_period = wr && paddr[11:2] == 10'h004 && w_status[1];

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) st_fault <= 1'b0;
        else if (fault_now) st_fault <= 1'b1;
        else if (clr_fault) st_fault <= 1'b0;
    end

    // Period counter with shadow registers
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            count <= 16'd0; period_sh <= 16'd1000; duty_sh <= 16'd0; st_period <= 1'b0;
        end else begin
            if (!en) begin
                count <= 16'd0; period_sh <= period; duty_sh <= duty;
            end else if (last) begin
                count <= 16'd0; period_sh <= period; duty_sh <= duty;
            end else begin
                count <= count + 16'd1;
            end
            if (en && last) st_period <= 1'b1;
            else if (clr_period) st_period <= 1'b0;
        end
    end

    // Outputs: registered, forced off by the synchronized fault or a latched one
    wire safe_off = fault_now | st_fault | ~en;
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            pwm_h <= 1'b0; pwm_l <= 1'b0;
        end else if (safe_off) begin
            pwm_h <= 1'b0; pwm_l <= 1'b0;
        end else begin
            pwm_h <= (count >= {8'b0, deadtime}) && (count < duty_sh);
            pwm_l <= ({1'b0, count} >= l_on) && (count < period_sh);
        end
    end

    assign irq = (st_fault & ie[0]) | (st_period & ie[1]);

    // Read mux; unmapped offsets answer PSLVERR
    reg [31:0] rdata;
    reg        rerr;
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            prdata <= 32'h0; pslverr <= 1'b0;
        end else if (psel && !penable) begin
            prdata <= rdata; pslverr <= rerr;
        end
    end

    always @* begin
        rerr = 1'b0;
        case (paddr[11:2])
            10'h000: rdata = {31'b0, en};
            10'h001: rdata = {16'b0, period};
            10'h002: rdata = {16'b0, duty};
            10'h003: rdata = {24'b0, deadtime};
            10'h004: rdata = {22'b0, en, fault_now, 6'b0, st_period, st_fault};
            10'h005: rdata = {30'b0, ie};
            10'h006: rdata = {16'b0, count};
            10'h007: rdata = ID_VALUE;
            default: begin rdata = 32'h0; rerr = 1'b1; end
        endcase
    end
endmodule

`default_nettype wire
