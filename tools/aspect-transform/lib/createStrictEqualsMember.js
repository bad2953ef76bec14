import { djb2Hash } from "./hash.js";
import { TypeNode, AssertionKind, CommonFlags, NodeKind, ParameterKind, Token } from "assemblyscript/dist/assemblyscript.js";
/**
 * This method creates a single FunctionDeclaration that allows Reflect.equals
 * to validate normal class member values.
 *
 * @param {ClassDeclaration} classDeclaration - The class that requires a new function.
 */
export function createStrictEqualsMember(classDeclaration) {
    const range = classDeclaration.name.range;
    // __aspectStrictEquals(rawRef: Object, stackA: usize[], stackB: usize[], ignore: StaticArray<i64>): bool
    return TypeNode.createMethodDeclaration(TypeNode.createIdentifierExpression("__aspectStrictEquals", range), null, CommonFlags.Public | CommonFlags.Instance | (classDeclaration.isGeneric ? CommonFlags.GenericContext : 0), null, TypeNode.createFunctionType([
        // rawRef: Object,
        createDefaultParameter("rawRef", TypeNode.createNamedType(TypeNode.createSimpleTypeName("Object", range), null, false, range), range),
        // stack: usize[]
        createDefaultParameter("stack", createArrayType("usize", range), range),
        // cache: usize[]
        createDefaultParameter("cache", createArrayType("usize", range), range),
        // ignore: StaticArray<i64>
        createDefaultParameter("ignore", TypeNode.createNamedType(TypeNode.createSimpleTypeName("StaticArray", range), [TypeNode.createNamedType(TypeNode.createSimpleTypeName("i64", range), null, false, range)], false, range), range),
    ], 
    // : bool
    createSimpleNamedType("bool", range), null, false, range), createStrictEqualsFunctionBody(classDeclaration), range);
}
/**
 * This method creates a simple name type with the given name and source range.
 *
 * @param {string} name - The name of the type.
 * @param {Range} range - The given source range.
 */
function createSimpleNamedType(name, range) {
    return TypeNode.createNamedType(TypeNode.createSimpleTypeName(name, range), null, false, range);
}
/**
 * This method creates an Array<name> type with the given range.
 *
 * @param {Range} range - The source range.
 */
function createArrayType(name, range) {
    return TypeNode.createNamedType(TypeNode.createSimpleTypeName("Array", range), [TypeNode.createNamedType(TypeNode.createSimpleTypeName(name, range), null, false, range)], false, range);
}
/**
 * This method creates the entire function body for __aspectStrictEquals.
 *
 * @param {ClassDeclaration} classDeclaration - The class declaration.
 */
function createStrictEqualsFunctionBody(classDeclaration) {
    const body = new Array();
    const range = classDeclaration.name.range;
    const nameHashes = new Array();
    const rawRef = TypeNode.createIdentifierExpression("rawRef", range);
    const classType = TypeNode.createNamedType(TypeNode.createSimpleTypeName(classDeclaration.name.text, range), classDeclaration.isGeneric
        ? classDeclaration.typeParameters.map((node) => TypeNode.createNamedType(TypeNode.createSimpleTypeName(node.name.text, range), null, false, range))
        : null, false, range);
    // Check if the parameter is an instance of the class; return otherwise
    body.push(TypeNode.createIfStatement(TypeNode.createUnaryPrefixExpression(Token.Exclamation, TypeNode.createInstanceOfExpression(rawRef, classType, range), range), TypeNode.createReturnStatement(TypeNode.createFalseExpression(range), range), null, range));
    // Cast rawRef into an instance of the class
    body.push(TypeNode.createVariableStatement(null, [
        TypeNode.createVariableDeclaration(TypeNode.createIdentifierExpression("ref", range), null, CommonFlags.Const, classType, TypeNode.createAssertionExpression(AssertionKind.As, rawRef, classType, range), range)
    ], range));
    // for each field declaration, generate a check
    for (const member of classDeclaration.members) {
        // if it's an instance member, regardless of access modifier
        if (member.is(CommonFlags.Instance)) {
            switch (member.kind) {
                // field declarations automatically get added
                case NodeKind.FieldDeclaration: {
                    const fieldDeclaration = member;
                    const hashValue = djb2Hash(member.name.text);
                    body.push(createStrictEqualsIfCheck(member.name.text, hashValue, fieldDeclaration.range));
                    nameHashes.push(hashValue);
                    break;
                }
                // function declarations can be getters, check the get flag
                case NodeKind.MethodDeclaration: {
                    if (member.is(CommonFlags.Get)) {
                        const methodDeclaration = member;
                        const hashValue = djb2Hash(member.name.text);
                        body.push(createStrictEqualsIfCheck(methodDeclaration.name.text, hashValue, methodDeclaration.name.range));
                        nameHashes.push(hashValue);
                    }
                    break;
                }
            }
        }
    }
    // if (isDefined(...)) super.__aspectStrictEquals(ref, stack, cache, ignore.concat([...props]));
    body.push(createSuperCallStatement(classDeclaration, nameHashes));
    // return true;
    body.push(TypeNode.createReturnStatement(TypeNode.createTrueExpression(range), range));
    return TypeNode.createBlockStatement(body, range);
}
/**
 * This function generates a single IfStatement with a nested ReturnStatement
 * to validate a nested property on a given class.
 *
 * @param {string} name - The name of the property.
 * @param {Range} range - The source range for the given property.
 */
function createStrictEqualsIfCheck(name, hashValue, range) {
    const equalsCheck = TypeNode.createBinaryExpression(Token.Equals_Equals, 
    // Reflect.equals(this.prop, ref.prop, stack, cache)
    TypeNode.createCallExpression(
    // Reflect.equals
    createPropertyAccess("Reflect", "equals", range), null, // types can be inferred by the compiler!
    // arguments
    [
        // this.prop
        TypeNode.createPropertyAccessExpression(TypeNode.createThisExpression(range), TypeNode.createIdentifierExpression(name, range), range),
        // ref.prop
        createPropertyAccess("ref", name, range),
        // stack
        TypeNode.createIdentifierExpression("stack", range),
        // cache
        TypeNode.createIdentifierExpression("cache", range),
    ], range), createPropertyAccess("Reflect", "FAILED_MATCH", range), range);
    // !ignore.includes("prop")
    const includesCheck = TypeNode.createUnaryPrefixExpression(Token.Exclamation, 
    // ignore.includes("prop")
    TypeNode.createCallExpression(
    // ignore.includes
    TypeNode.createPropertyAccessExpression(TypeNode.createIdentifierExpression("ignore", range), TypeNode.createIdentifierExpression("includes", range), range), null, 
    // (nameHash)
    [TypeNode.createIntegerLiteralExpression(f64_as_i64(hashValue), range)], range), range);
    // if (Reflect.equals(this.prop, ref.prop, stack, cache) === Reflect.FAILED_MATCH) return false;
    return TypeNode.createIfStatement(
    // Reflect.equals(this.prop, ref.prop, stack, cache) === Reflect.FAILED_MATCH
    TypeNode.createBinaryExpression(Token.Ampersand_Ampersand, includesCheck, equalsCheck, range), 
    // return false;
    TypeNode.createReturnStatement(TypeNode.createFalseExpression(range), range), null, range);
}
/**
 * Create a simple default parameter with a name and a type.
 *
 * @param {string} name - The name of the parameter.
 * @param {TypeNode} typeNode - The type of the parameter.
 * @param {Range} range - The source range of the parameter.
 */
function createDefaultParameter(name, typeNode, range) {
    return TypeNode.createParameter(ParameterKind.Default, TypeNode.createIdentifierExpression(name, range), typeNode, null, range);
}
/**
 * This method creates a single property access and passes the given range to the AST.
 *
 * @param {string} root - The name of the identifier representing the root.
 * @param {string} property - The name of the identifier representing the property.
 * @param {Range} range - The range of the property access.
 */
function createPropertyAccess(root, property, range) {
    // root.property
    return TypeNode.createPropertyAccessExpression(TypeNode.createIdentifierExpression(root, range), TypeNode.createIdentifierExpression(property, range), range);
}
/**
 * This method creates the function call into super.__aspectStrictEquals,
 * wrapping it in a check to make sure the super function is defined first.
 *
 * @param {ClassDeclaration} classDeclaration - The given class declaration.
 * @param {number[]} nameHashes - A collection of hash values of the comparing class properties.
 */
function createSuperCallStatement(classDeclaration, nameHashes) {
    const range = classDeclaration.name.range;
    const ifStatement = TypeNode.createIfStatement(TypeNode.createCallExpression(TypeNode.createIdentifierExpression("isDefined", range), null, [
        TypeNode.createPropertyAccessExpression(TypeNode.createSuperExpression(range), TypeNode.createIdentifierExpression("__aspectStrictEquals", range), range),
    ], range), TypeNode.createBlockStatement([
        TypeNode.createIfStatement(TypeNode.createUnaryPrefixExpression(Token.Exclamation, createSuperCallExpression(nameHashes, range), range), TypeNode.createReturnStatement(TypeNode.createFalseExpression(range), range), null, range),
    ], range), null, range);
    return ifStatement;
}
/**
 * This method actually creates the super.__aspectStrictEquals function call.
 *
 * @param {number[]} hashValues - The collection of hashed property name values
 * @param {Range} range - The super call expression range
 */
function createSuperCallExpression(hashValues, range) {
    return TypeNode.createCallExpression(TypeNode.createPropertyAccessExpression(TypeNode.createSuperExpression(range), TypeNode.createIdentifierExpression("__aspectStrictEquals", range), range), null, [
        TypeNode.createIdentifierExpression("ref", range),
        TypeNode.createIdentifierExpression("stack", range),
        TypeNode.createIdentifierExpression("cache", range),
        // StaticArray.concat(ignore, [... props] as StaticArray<i64>)
        TypeNode.createCallExpression(TypeNode.createPropertyAccessExpression(TypeNode.createIdentifierExpression("StaticArray", range), TypeNode.createIdentifierExpression("concat", range), range), null, [
            TypeNode.createIdentifierExpression("ignore", range),
            // [...] as StaticArray<i64>
            TypeNode.createAssertionExpression(AssertionKind.As, TypeNode.createArrayLiteralExpression(hashValues.map((e) => TypeNode.createIntegerLiteralExpression(f64_as_i64(e), range)), range), TypeNode.createNamedType(TypeNode.createSimpleTypeName("StaticArray", range), [TypeNode.createNamedType(TypeNode.createSimpleTypeName("i64", range), null, false, range)], false, range), range),
        ], range),
    ], range);
}
