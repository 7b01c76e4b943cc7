import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { aliasThis } from "../../tools/build/this-alias";

/** Runs a script that ends with an expression and returns its value. */
function run(code: string): unknown {
  return new Function("return " + code)();
}

// Each program is an expression whose value shows what `this` was wherever it was read.
const PROGRAMS = [
  // A class whose methods say `this` often, with arrows inside them.
  `(function(){class C{constructor(a){this.a=a;this.b=a+1;this.c=a+2;this.d=[]}m(){this.d.push(this.a);[1,2].forEach(x=>this.d.push(x+this.b));return this.d.concat([this.c,this.a,this.b])}}return new C(5).m()})()`,
  // A nested non-arrow function keeps its own this.
  `(function(){var o={v:1,w:2,f(){var self=this;function g(){return this&&this.v}return [this.v,this.w,this.v+this.w,g.call({v:9}),g.call(this),self.v]}};return o.f()})()`,
  // A name the function already uses is not taken for the alias, whatever it shadows.
  `(function(){var t=7,s=8;var o={t:1,s:2,f(){var e=3;return [t,s,e,this.t,this.s,this.t+this.s,this.t*this.s]}};return o.f()})()`,
  // Every one-letter name used inside: no alias, the code is left as it was.
  `(function(){var o={k:4,f(){${"tseinoarlcdfhupmgbvywkxjqzTSEINOARLCDFHUPMGBVYWKXJQZ_$".split("").map((c) => "var " + c + "=1;").join("")}return [this.k,this.k,this.k,this.k,this.k,this.k]}};return o.f()})()`,
  // this inside arrows inside arrows, and a method called on another object.
  `(function(){function F(){this.n=3;this.get=()=>()=>this.n;this.add=(k)=>{this.n+=k;return this.n}}var f=new F();var g={n:100};return [f.get()(),f.add(2),f.get.call(g)(),f.add.call(g,1),f.n]})()`,
];

describe("tools/build/this-alias: `this` as a one-letter local", () => {
  it.each(PROGRAMS.map((p, i) => [i, p]))("program %i computes the same after the pass", (_i, p) => {
    const out = aliasThis(p as string);
    expect(run(out)).toEqual(run(p as string));
  });

  it("makes a function that says this often shorter, and leaves one that says it once alone", () => {
    const many = `function f(){return this.a+this.b+this.c+this.d+this.e}`;
    const once = `function f(){return this.a}`;
    expect(aliasThis(many).length).toBeLessThan(many.length);
    expect(aliasThis(many)).toMatch(/^function f\(\)\{let (\w)=this;return \1\.a\+\1\.b/);
    expect(aliasThis(once)).toBe(once);
  });

  it("joins the alias to a let that opens the body, before the names that may use it", () => {
    const p = `(function(){var o={a:1,b:2,f(){let x=this.a,y=this.b+x;return [x,y,this.a+this.b,this.a*this.b]}};return o.f()})()`;
    const out = aliasThis(p);
    expect(out).toContain("f(){let t=this,x=t.a,y=t.b+x;");
    expect(run(out)).toEqual(run(p));
  });

  it("refuses a bundle with a derived class, where this before super() would throw", () => {
    expect(() => aliasThis(`class A{}class B extends A{constructor(){super();this.a=1;this.b=2;this.c=3;this.d=4;this.e=5}}`)).toThrow(/derived class/);
  });

  it("keeps the value of random methods mixing this, locals and nested functions", () => {
    // Methods over a fixed object; bodies built from fragments that read this, locals named like aliases, and nested functions.
    const frag = fc.constantFrom(
      "r.push(this.a);",
      "r.push(this.b*2);",
      "var t=this.a+1;r.push(t);",
      "r.push((()=>this.b)());",
      "r.push(function(){return this===undefined?0:this.a}.call({a:42}));",
      "r.push((function(){return this})()===this?1:2);",
      "{let s=this;r.push(s.a+this.b);}",
      "r.push([1,2].map(x=>x+this.a).join());",
    );
    fc.assert(
      fc.property(fc.array(frag, { minLength: 1, maxLength: 12 }), (parts) => {
        const p = `(function(){'use strict';var o={a:5,b:6,m(){var r=[];${parts.join("")}return r}};return o.m()})()`;
        expect(run(aliasThis(p))).toEqual(run(p));
      }),
      { numRuns: 300 },
    );
  });
});
